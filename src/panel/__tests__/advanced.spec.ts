/**
 * The Advanced export options: typed text to `POST export` options, and their round trip
 * through the notebook's metadata.
 */
import {
  advancedRequest,
  advancedTexts,
  exportOptionsOf,
  legacyTexts,
  withExportOptions
} from '../advanced';

describe('advancedRequest', () => {
  it.each([
    [{ ttlAfterSuccess: '3600' }, { ttlAfterSuccess: 3600 }],
    [{ ttlAfterFailure: '' }, { ttlAfterFailure: null }],
    [{ activeDeadlineSeconds: 'soon' }, { activeDeadlineSeconds: 'soon' }],
    [{ podGC: '' }, { podGC: null }],
    [{ podGC: 'OnPodCompletion' }, { podGC: 'OnPodCompletion' }],
    [{ retryBackoff: ' 30s ' }, { retryBackoff: '30s' }],
    [{ parallelism: '4' }, { parallelism: 4 }],
    [{ parallelism: '' }, { parallelism: null }],
    [{ parallelism: 'many' }, { parallelism: 'many' }],
    [{ retries: '2' }, { retries: 2 }],
    [{ retries: ' ' }, {}],
    [{}, {}]
  ])('%p is sent as %p', (texts, options) => {
    expect(advancedRequest(texts)).toEqual(options);
  });
});

describe('advancedTexts', () => {
  it.each([
    [
      { ttlAfterSuccess: 60, podGC: null },
      { ttlAfterSuccess: '60', podGC: '' }
    ],
    [{ retryBackoff: '1m', other: 1 }, { retryBackoff: '1m' }],
    [null, {}],
    [[1], {}]
  ])('%p shows as %p', (saved, texts) => {
    expect(advancedTexts(saved)).toEqual(texts);
  });

  it('round-trips what advancedRequest sends', () => {
    const texts = {
      ttlAfterSuccess: '60',
      podGC: '',
      retryBackoff: '5s',
      parallelism: '',
      retries: '3'
    };
    expect(advancedTexts(advancedRequest(texts))).toEqual(texts);
  });
});

describe('withExportOptions', () => {
  it('keeps the other keys of the entry', () => {
    const entry = { note: 'mine', export: { podGC: null } };
    const next = withExportOptions(entry, { ttlAfterSuccess: 5 });
    expect(next).toEqual({ note: 'mine', export: { ttlAfterSuccess: 5 } });
    expect(exportOptionsOf(next)).toEqual({ ttlAfterSuccess: 5 });
  });

  it('drops the export key when nothing is set', () => {
    expect(withExportOptions({ export: { podGC: null } }, {})).toEqual({});
  });
});

describe('legacyTexts', () => {
  it('takes the exportParallelism and exportRetries the user set', () => {
    expect(legacyTexts(4, 2)).toEqual({ parallelism: '4', retries: '2' });
    expect(legacyTexts(null, undefined)).toEqual({ parallelism: '' });
    expect(legacyTexts(undefined, undefined)).toEqual({});
  });
});
