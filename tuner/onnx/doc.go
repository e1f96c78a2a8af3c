// Package onnx reads networks that PyTorch exports as ONNX into fhetune's float
// networks (tuner/model), and writes fhetune's networks back as ONNX, so that a user's
// own PyTorch network can be tuned and the tuned network can leave for PyTorch's ONNX
// runtime or Concrete ML.
//
// # What is read
//
// A model is a chain: one float input of shape [batch, features] or [batch, C, H, W],
// one output, and nodes that each take the previous node's value (plus constants). The
// operators are those PyTorch's exporter (opsets 11 to 18) emits for the MLPs and CNNs
// Concrete ML compiles:
//
//   - Gemm, MatMul (with a constant weight), Conv (strides, symmetric pads, dilations,
//     groups) become [model.Linear] and [model.Conv2d];
//   - Relu, LeakyRelu, Sigmoid, Tanh and GELU in its erf form (Div by √2, Erf, Add 1,
//     Mul by the input, Mul by ½, as opset < 20 spells it) become activations;
//   - AveragePool, GlobalAveragePool and MaxPool (square windows, no padding) become
//     pools; Flatten, and Reshape or Transpose that only flatten, become
//     [model.Flatten];
//   - Add, Sub, Mul and Div by constants, and BatchNormalization, are element-wise
//     affine maps: folded into the Gemm or Conv before them, or else into the one after
//     them, or, before the first layer, into the network's [model.Standardizer];
//   - Softmax and LogSoftmax at the output are dropped (they keep the arg max);
//     Dropout, Identity and Pad with zero pads are removed; Constant, Shape, Gather,
//     Unsqueeze, Squeeze, Concat and Cast are evaluated when they only compute a
//     static shape.
//
// Anything else is refused with an [*Error] naming the node, its op type and what is
// supported.
//
// # What is written
//
// [Encode] writes opset 13 with float32 tensors (what PyTorch, ONNX Runtime and
// Concrete ML load): the standardizer as Sub and Div nodes, then one node per layer
// (GELU as its erf form). Reading a written file gives back the network up to float32
// rounding of its numbers.
//
// The message types come from the generated package tuner/onnx/onnxpb.
package onnx
