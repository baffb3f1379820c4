/**
 * Collection state shared by every copy of this module in a thread. A test file may
 * reach the API through `subrun/test`, through a path into dist/, or through the
 * `node:test` mapping; all must land in one registry, so it lives on globalThis
 * under a registered symbol rather than in module scope.
 */
import { SubrunError } from '../core/errors.js';
import { ID_SEPARATOR, newSuite, type SuiteNode, type TestNode, type TestOptions, type TestFn } from './tree.js';

export interface FileTree {
  /** Path relative to the suite root, with forward slashes. */
  readonly file: string;
  readonly root: SuiteNode;
  /** Ids that were declared more than once, each with how many times. */
  readonly duplicates: Map<string, number>;
}

/** Something running a test that `test()` can delegate to when called outside collection. */
export interface ActiveRun {
  subtest(name: string, options: TestOptions, fn: TestFn | undefined): Promise<void>;
}

export class Registry {
  #suite: SuiteNode | undefined;
  #tree: FileTree | undefined;
  #seen = new Map<string, number>();
  /** Set by the runner while a test body runs, so a stray `test()` becomes a subtest. */
  activeRun: ActiveRun | undefined;

  /** Collect the tests that `load` declares (by importing a file) under `file`. */
  async collect(file: string, load: () => Promise<unknown>): Promise<FileTree> {
    if (this.#tree !== undefined) throw new SubrunError('ERR_COLLECT_BUSY', `already collecting ${this.#tree.file}`);
    const tree: FileTree = { file, root: newSuite(file, file, {}, undefined), duplicates: new Map() };
    this.#tree = tree;
    this.#suite = tree.root;
    this.#seen = new Map();
    try {
      await load();
    } finally {
      this.#tree = undefined;
      this.#suite = undefined;
    }
    return tree;
  }

  get collecting(): boolean {
    return this.#suite !== undefined;
  }

  addTest(name: string, options: TestOptions, fn: TestFn | undefined): void {
    const parent = this.#current('test');
    const node: TestNode = { kind: 'test', name, id: this.#uniqueId(parent.id + ID_SEPARATOR + name), fn, options, parent };
    parent.children.push(node);
  }

  addSuite(name: string, options: TestOptions, body: (() => unknown) | undefined): void {
    const parent = this.#current('describe');
    const suite = newSuite(name, this.#uniqueId(parent.id + ID_SEPARATOR + name), options, parent);
    parent.children.push(suite);
    if (body === undefined) return;
    this.#suite = suite;
    try {
      const result = body();
      if (result !== null && typeof result === 'object' && typeof (result as { then?: unknown }).then === 'function') {
        throw new SubrunError('ERR_ASYNC_DESCRIBE', `describe(${JSON.stringify(name)}) returned a promise: describe bodies must declare their tests synchronously`);
      }
    } finally {
      this.#suite = parent;
    }
  }

  addHook(kind: keyof SuiteNode['hooks'], fn: SuiteNode['hooks']['before'][number]): void {
    this.#current(kind).hooks[kind].push(fn);
  }

  #current(what: string): SuiteNode {
    if (this.#suite === undefined) {
      throw new SubrunError('ERR_NOT_COLLECTING', `${what}() was called outside a test file being loaded by subrun`);
    }
    return this.#suite;
  }

  /** A repeated id keeps its place and gets ` #2`, ` #3`...: reported, never merged. */
  #uniqueId(id: string): string {
    const n = (this.#seen.get(id) ?? 0) + 1;
    this.#seen.set(id, n);
    if (n === 1) return id;
    this.#tree!.duplicates.set(id, n);
    return `${id} #${n}`;
  }
}

const KEY = Symbol.for('subrun.testing.registry');

export function getRegistry(): Registry {
  const g = globalThis as { [KEY]?: Registry };
  return (g[KEY] ??= new Registry());
}
