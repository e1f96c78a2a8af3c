// Package conv holds the one copy of 2-D convolution geometry, im2col and its adjoint
// col2im over batches of flattened NCHW rows, shared by tuner/model (float training) and
// fhe/circuit (the integer circuit), which must not import each other. The geometry
// covers stride, zero padding, dilation and a channel offset, so that a grouped
// convolution runs group by group on the caller's matrix without copying it.
//
// A batch is a *mat.Dense whose rows are samples; the element (c, h, w) of a sample of
// shape [C, H, W] sits in column c·H·W + h·W + w. This package imports only gonum.
package conv
