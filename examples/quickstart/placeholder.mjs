// Placeholder until the examples issue lands the real quickstart (2-D data: EDM teacher -> ECT 1-step).
console.log('fewstep quickstart: not yet available. The real quickstart (train a 2-D diffusion teacher,');
console.log('ECT-tune it to one step, compare metrics) lands with the examples issue. Run `npm test` meanwhile.');
