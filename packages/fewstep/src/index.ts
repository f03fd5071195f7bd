// The umbrella package: everything public in fewstep, from one import.
export * from '@fewstep/core';
export * from '@fewstep/losses';
