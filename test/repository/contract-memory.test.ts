import t from 'tap';
import { MemoryRepository } from '../../src/repository/memory-repository.js';
import { repositoryContract } from './fixtures/contract.js';

repositoryContract(t, () => new MemoryRepository());
