/**
 * The Advanced export options: typed text to `POST export` options, and their round trip
 * through the notebook's metadata.
 */
import {
  advancedRequest,
  advancedTexts,
  exportOptionsOf,
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
    const texts = { ttlAfterSuccess: '60', podGC: '', retryBackoff: '5s' };
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
