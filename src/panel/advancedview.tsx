import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { AdvancedField } from './advanced';
import { AdvancedOptionsModel } from './advancedmodel';
import { Field } from './fields';

function shown(value: unknown, none: string): string {
  return value === null || value === undefined ? none : String(value);
}

/**
 * The *Advanced* export options: parallelism, retries and Argo's hygiene (pod GC, TTLs, deadline,
 * retry backoff). Each field
 * shows the CLI's default as its placeholder and the server's message when its value is bad.
 */
export function AdvancedExportOptions(props: {
  advanced: AdvancedOptionsModel;
  trans: TranslationBundle;
}): JSX.Element {
  const { advanced, trans } = props;
  const seconds: [AdvancedField, string, string][] = [
    [
      'parallelism',
      trans.__('Parallelism (pods at once)'),
      trans.__('no limit')
    ],
    ['retries', trans.__('Retries of a failed batch'), '0'],
    [
      'ttlAfterSuccess',
      trans.__('Delete the workflow this many seconds after it succeeded'),
      trans.__('keep it')
    ],
    [
      'ttlAfterFailure',
      trans.__('Delete the workflow this many seconds after it failed'),
      trans.__('keep it')
    ],
    [
      'activeDeadlineSeconds',
      trans.__('Stop a run that takes longer than (seconds)'),
      trans.__('no limit')
    ],
    ['retryBackoff', trans.__('Wait before a retry (doubling each time)'), '']
  ];
  const podGC = advanced.text('podGC');
  const podGCError = advanced.error('podGC');
  const defaultGC = shown(advanced.defaultOf('podGC'), trans.__('keep pods'));
  return (
    <details className="jp-NaavreBatch-advanced" data-section="advanced">
      <summary>{trans.__('Advanced')}</summary>
      <div className="jp-NaavreBatch-fields">
        <div className="jp-NaavreBatch-field">
          <label htmlFor="jp-NaavreBatch-advanced-podGC">
            {trans.__('Delete pods (pod GC strategy)')}
          </label>
          <select
            id="jp-NaavreBatch-advanced-podGC"
            className="jp-mod-styled"
            name="podGC"
            value={podGC === undefined ? '__default__' : podGC}
            aria-invalid={podGCError ? true : undefined}
            onChange={event =>
              advanced.set(
                'podGC',
                event.target.value === '__default__'
                  ? undefined
                  : event.target.value
              )
            }
          >
            <option value="__default__">
              {trans.__('default (%1)', defaultGC)}
            </option>
            <option value="">{trans.__('keep pods')}</option>
            {advanced.podGCStrategies.map(s => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
          {podGCError ? (
            <span className="jp-NaavreBatch-fieldError">{podGCError}</span>
          ) : null}
        </div>
        {seconds.map(([field, label, none]) => (
          <Field
            key={field}
            id={`jp-NaavreBatch-advanced-${field}`}
            name={field}
            label={label}
            value={advanced.text(field) ?? ''}
            placeholder={shown(advanced.defaultOf(field), none)}
            error={advanced.error(field)}
            onChange={v => advanced.set(field, v)}
          />
        ))}
      </div>
    </details>
  );
}
