// Package conv holds the one copy of 2-D convolution geometry and im2col over batches of
// flattened NCHW rows, shared by tuner/model (float training) and fhe/circuit (the
// integer circuit), which must not import each other.
//
// A batch is a *mat.Dense whose rows are samples; the element (c, h, w) of a sample of
// shape [C, H, W] sits in column c·H·W + h·W + w. This package imports only gonum.
package conv
