import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FileRepository } from '../../src/repository/file-repository.js';
import { repositoryContract } from './fixtures/contract.js';

repositoryContract(t, (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'subrun-repo-'));
  const repo = FileRepository.open(path.join(dir, '.subrun'), { create: true });
  t.teardown(() => {
    repo.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return repo;
});
