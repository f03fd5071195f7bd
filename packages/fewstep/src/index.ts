// The umbrella package: everything public in fewstep, from one import.
export * from '@fewstep/core';
export * from '@fewstep/data';
export * from '@fewstep/eval';
export * from '@fewstep/samplers';
export * from '@fewstep/train';
