import * as React from 'react';

/**
 * A labelled input of the panel: the label above the input (it wraps), the input as wide as the
 * panel, and the error under it, tied to the input for screen readers (`aria-describedby`).
 */
export function Field(props: {
  label: string;
  value: string;
  onChange: (value: string) => void;
  placeholder?: string;
  error?: string | null;
  name: string;
  /** The input's id (the error's is `<id>-error`); a unique one when not given. */
  id?: string;
}): JSX.Element {
  const generated = React.useMemo(
    () => `jp-NaavreBatch-field-${Math.random().toString(36).slice(2)}`,
    []
  );
  const id = props.id ?? generated;
  return (
    <div className="jp-NaavreBatch-field">
      <label htmlFor={id}>{props.label}</label>
      <input
        id={id}
        className="jp-mod-styled"
        name={props.name}
        value={props.value}
        placeholder={props.placeholder}
        aria-invalid={props.error ? true : undefined}
        aria-describedby={props.error ? `${id}-error` : undefined}
        onChange={event => props.onChange(event.target.value)}
      />
      {props.error ? (
        <span id={`${id}-error`} className="jp-NaavreBatch-fieldError">
          {props.error}
        </span>
      ) : null}
    </div>
  );
}
