// The umbrella package: everything public in fewstep, from one import.
export * from '@fewstep/core';
export * from '@fewstep/backends';
export * from '@fewstep/nn';
export * from '@fewstep/losses';
export * from '@fewstep/samplers';
export * from '@fewstep/mdm';
export * from '@fewstep/data';
export * from '@fewstep/eval';
export * from '@fewstep/train';
