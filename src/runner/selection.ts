import { SubrunError } from '../core/errors.js';
import type { Repository } from '../repository/types.js';

export interface SelectionRequest {
  filters?: readonly string[];
  failing?: boolean;
  loadList?: readonly string[];
}

/** testr's filters: Python `re.search`, any of them; Python named groups rewritten. Null: no filter. */
export function compileFilters(filters: readonly string[] | undefined): RegExp[] | null {
  if (filters === undefined || filters.length === 0) return null;
  return filters.map((f) => {
    try {
      return new RegExp(f.replace(/\(\?P</g, '(?<').replace(/\(\?P=(\w+)\)/g, '\\k<$1>'));
    } catch (error) {
      throw new SubrunError('ERR_USAGE', `test filter ${JSON.stringify(f)} is not a valid regular expression: ${(error as Error).message}`, { details: { filter: f } });
    }
  });
}

/**
 * The tests of a run (SPEC §14.10): the listed tests (or, with `listed` null, the ids
 * asked for), narrowed to the failing set (`--failing`), to a list (`--load-list`),
 * then to the filters. Asked-for ids the server does not list are named in a notice
 * and left out. Throws ERR_NO_TESTS when nothing is left.
 */
export function selectTests(listed: readonly string[] | null, request: SelectionRequest, repo: Repository, notice: (text: string) => void): string[] {
  let wanted: string[] | null = null;
  let what = 'the suite';
  if (request.failing === true) {
    wanted = repo.failing().map((f) => f.testId);
    what = 'the failing set';
    if (wanted.length === 0) throw new SubrunError('ERR_NO_TESTS', 'no test is failing: there is nothing for --failing to run', { details: { reason: 'no-failing' } });
  }
  if (request.loadList !== undefined) {
    const list = new Set(request.loadList);
    wanted = wanted === null ? [...list] : wanted.filter((id) => list.has(id));
    what = '--load-list';
  }
  let tests: string[];
  if (listed === null) tests = wanted ?? [];
  else if (wanted === null) tests = [...listed];
  else {
    const known = new Set(listed);
    const missing = wanted.filter((id) => !known.has(id));
    if (missing.length > 0) {
      const shown = missing.slice(0, 5).join(', ');
      notice(`${missing.length} test${missing.length === 1 ? '' : 's'} of ${what} no longer exist${missing.length === 1 ? 's' : ''} and will not run: ${shown}${missing.length > 5 ? ', ...' : ''}`);
    }
    const keep = new Set(wanted);
    tests = listed.filter((id) => keep.has(id));
  }
  const filters = compileFilters(request.filters);
  if (filters !== null) tests = tests.filter((id) => filters.some((re) => re.test(id)));
  if (tests.length === 0) {
    throw new SubrunError('ERR_NO_TESTS', `no test to run: ${what}${filters === null ? '' : ' after the filters'} selects nothing`, { details: { reason: 'empty-selection' } });
  }
  return tests;
}
