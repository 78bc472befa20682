/**
 * Which export options each format of the panel's Export buttons sends (`POST export`).
 */
import { exportOptionsFor } from '../export';

describe('exportOptionsFor', () => {
  const options = { image: 'me/app:1', parallelism: 4, retries: 2 };

  it('sends every option with an Argo export', () => {
    expect(exportOptionsFor('argo', options)).toEqual(options);
  });

  it('sends only the image with a CWL export (the engine takes the rest)', () => {
    expect(exportOptionsFor('cwl', options)).toEqual({ image: 'me/app:1' });
    expect(exportOptionsFor('cwl', { retries: 2 })).toEqual({});
  });

  it('sends no option with the spec', () => {
    expect(exportOptionsFor('json', options)).toEqual({});
  });
});
