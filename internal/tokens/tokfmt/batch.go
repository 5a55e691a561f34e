package tokfmt

// MaxBatch is the most items one tokenize or detokenize request takes. The
// token service enforces it, and the gateway checks it before it splits a
// batch across regions.
const MaxBatch = 1000
