// Package model holds the float neural networks that a study tunes: their layers, how
// they are built from a spec string, trained, pruned, and saved to a file.
//
// # Networks as layer lists
//
// A [Network] is an ordered list of layers with exported, inspectable parameters, so that
// a later stage can compile it into an integer circuit the way post-training quantization
// does: each [Linear] and [Conv2d] (with dilation and groups, as PyTorch's) is a dot
// product with a bias, each [ReLU] and [Activation] (leaky ReLU, sigmoid, tanh, GELU)
// becomes a table lookup per output element, [AvgPool2d] is linear, [MaxPool2d] is a
// chain of comparisons (a table lookup each) and [Flatten] only changes the shape. The
// layer set is closed: code that walks a network switches on *Linear, *Conv2d,
// *AvgPool2d, *MaxPool2d, ReLU, Activation and Flatten (the last three are plain
// values).
//
// # Data layout
//
// A batch is a *mat.Dense whose rows are samples. An image sample of shape [C, H, W] is one
// row in channel-major order: element (c, h, w) sits in column c·H·W + h·W + w, as in a
// flattened NCHW tensor, so [Flatten] does not move any number. A [Linear] weight matrix is
// out×in; a [Conv2d] weight matrix of G groups is OutC × (InC/G·KH·KW) with column
// c'·KH·KW + kh·KW + kw for channel c' of the output channel's group (PyTorch's weight
// tensor flattened).
//
// # Raw and standardized inputs
//
// A network keeps the [Standardizer] fitted on its training data and its input shape (a
// dataset.Standardizer converts with model.Standardizer(s): the fields are the same).
// [Network.Logits], [Network.Predict], [Network.Accuracy] and [Train] take raw inputs (as a
// data set holds them) and standardize them first; [Network.Forward] and each layer's
// Forward take inputs that are already standardized ([Network.Standardize]).
//
// # Sparsity
//
// [Linear] and [Conv2d] carry an optional mask: a false entry pins that weight at zero, and
// training keeps it there. [PruneUnstructured] sets masks; [PruneStructured] removes hidden
// neurons or channels and shrinks the next layer's inputs to match.
//
// # Determinism and concurrency
//
// Every random choice takes a seed (math/rand/v2 PCG streams, no package state): the same
// seed gives the same weights and the same training run. Forward passes read the network
// and are safe for concurrent use; [Train] and the pruning functions are not safe to run
// concurrently with anything else on the same network (pruning returns a new network and
// leaves its input alone).
//
// # Quantization-aware training
//
// [PrepareQAT] sets a network up for quantization-aware training: [Quant] layers where
// the compiled circuit quantizes and quantized weights on every [Linear] and [Conv2d].
// Such a network computes in the circuit's own integers, with fhe/circuit's quantizers,
// so that [Train] trains what the circuit will compute (see qat.go), and
// [AccumulatorPrune] bounds its accumulators (n_accum_bits).
//
// # Files
//
// [Save] and [Load] use the versioned binary format documented at [FormatVersion]: magic,
// version, body length, layer records with little-endian float64s, CRC-32.
//
// This package prints nothing and imports no other fhetune package but conv (the
// shared im2col), act (the shared activation functions), atomicfile and fhe/circuit
// (whose quantizers quantization-aware training shares with the compiler).
package model
