package model

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"

	"gonum.org/v1/gonum/mat"
)

// Norm is the norm that ranks neurons or channels in [PruneStructured].
type Norm int

const (
	// L1 ranks by the sum of absolute weights.
	L1 Norm = 1
	// L2 ranks by the Euclidean norm of the weights.
	L2 Norm = 2
)

func (n Norm) String() string {
	switch n {
	case L1:
		return "l1"
	case L2:
		return "l2"
	}
	return fmt.Sprintf("Norm(%d)", int(n))
}

// ParseNorm reads "l1" or "l2" (any case).
func ParseNorm(s string) (Norm, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "l1":
		return L1, nil
	case "l2":
		return L2, nil
	}
	return 0, pruneErr("norm %q: want l1 or l2", s)
}

// PruneStructured returns a copy of net with a share frac of the hidden neurons (outputs
// of each [Linear] layer but the last) and channels (outputs of each [Conv2d] layer)
// removed, layer by layer: in each such layer, round(frac·width) units with the smallest
// norm of their incoming weights go (ties: the lower index first), at least one unit
// stays. The removed units' weights and biases disappear, and so do the matching inputs
// of the next [Linear] or [Conv2d] layer (a channel's whole H·W block after a Flatten);
// [AvgPool2d] and [MaxPool2d] layers in between shrink their channel count, and [ReLU]
// and [Activation] layers, element-wise, pass the units through one to one. The output
// layer is never pruned. Masks follow the weights they belong to. frac must be in [0, 1).
//
// Grouped convolutions (Groups > 1) are not pruned: a layer boundary that would lose
// units and has a grouped convolution on either side (its outputs or its inputs would
// shrink, breaking the equal group sizes) is refused with an error wrapping [ErrPrune]
// that names the layer. A boundary where frac removes nothing (round(frac·width) = 0)
// is left alone and does not fail.
//
// The result is smaller and dense; fine-tune it with [Train].
func PruneStructured(net *Network, frac float64, norm Norm) (*Network, error) {
	if !(frac >= 0 && frac < 1) {
		return nil, pruneErr("structured pruning share %v: want a value in [0, 1)", frac)
	}
	if norm != L1 && norm != L2 {
		return nil, pruneErr("norm %v: want L1 or L2", norm)
	}
	if err := net.Validate(); err != nil {
		return nil, fmt.Errorf("model: prune: %w", err)
	}
	out := net.Clone()
	var paramIdx []int
	for i, l := range out.Layers {
		switch l.(type) {
		case *Linear, *Conv2d:
			paramIdx = append(paramIdx, i)
		}
	}
	for pi, li := range paramIdx[:max(0, len(paramIdx)-1)] {
		w := weightsOf(out.Layers[li])
		units, _ := w.Dims()
		remove := min(int(math.Round(frac*float64(units))), units-1)
		if remove <= 0 {
			continue
		}
		for _, j := range []int{li, paramIdx[pi+1]} {
			if c, ok := out.Layers[j].(*Conv2d); ok && c.NumGroups() > 1 {
				return nil, fmt.Errorf("model: prune: layer %d (conv2d with %d groups): %w", j, c.NumGroups(),
					pruneErr("grouped convolutions are not pruned, and removing %d of the %d units of layer %d would change its channels", remove, units, li))
			}
		}
		keep := keepByNorm(w, units-remove, norm)
		shrinkOutputs(out.Layers[li], keep)
		for j := li + 1; j < paramIdx[pi+1]; j++ {
			switch p := out.Layers[j].(type) {
			case *AvgPool2d:
				p.C = len(keep)
			case *MaxPool2d:
				p.C = len(keep)
			}
		}
		shrinkInputs(out.Layers[paramIdx[pi+1]], keep, units)
	}
	if err := out.Validate(); err != nil {
		return nil, fmt.Errorf("model: prune: %w", err) // a broken invariant of this code
	}
	return out, nil
}

func weightsOf(l Layer) *mat.Dense {
	switch l := l.(type) {
	case *Linear:
		return l.W
	case *Conv2d:
		return l.W
	}
	return nil
}

// keepByNorm returns the indices (ascending) of the n rows of w with the largest norm.
func keepByNorm(w *mat.Dense, n int, norm Norm) []int {
	r, _ := w.Dims()
	norms := make([]float64, r)
	for i := range norms {
		for _, v := range w.RawRowView(i) {
			if norm == L1 {
				norms[i] += math.Abs(v)
			} else {
				norms[i] += v * v
			}
		}
	}
	order := make([]int, r)
	for i := range order {
		order[i] = i
	}
	// Largest norm first; among equal norms the higher index first, so the lower
	// index is removed first.
	slices.SortStableFunc(order, func(a, b int) int {
		if c := cmp.Compare(norms[b], norms[a]); c != 0 {
			return c
		}
		return cmp.Compare(b, a)
	})
	keep := order[:n]
	slices.Sort(keep)
	return keep
}

// shrinkOutputs keeps the output rows keep of a Linear or Conv2d layer.
func shrinkOutputs(l Layer, keep []int) {
	switch l := l.(type) {
	case *Linear:
		l.W, l.B, l.Mask = pickRows(l.W, l.B, l.Mask, keep)
	case *Conv2d:
		l.W, l.B, l.Mask = pickRows(l.W, l.B, l.Mask, keep)
		l.OutC = len(keep)
	}
}

func pickRows(w *mat.Dense, b []float64, mask []bool, keep []int) (*mat.Dense, []float64, []bool) {
	_, c := w.Dims()
	nw := mat.NewDense(len(keep), c, nil)
	nb := make([]float64, len(keep))
	var nm []bool
	if mask != nil {
		nm = make([]bool, 0, len(keep)*c)
	}
	for i, k := range keep {
		copy(nw.RawRowView(i), w.RawRowView(k))
		nb[i] = b[k]
		if mask != nil {
			nm = append(nm, mask[k*c:(k+1)*c]...)
		}
	}
	return nw, nb, nm
}

// shrinkInputs keeps the inputs of a Linear or Conv2d layer that belong to the kept units
// of the previous layer, which had units units: each unit owns a contiguous block of
// inputs (one column for Linear after Linear, H·W columns after a Flatten, KH·KW columns
// of a Conv2d).
func shrinkInputs(l Layer, keep []int, units int) {
	var w *mat.Dense
	var mask []bool
	switch l := l.(type) {
	case *Linear:
		w, mask = l.W, l.Mask
	case *Conv2d:
		w, mask = l.W, l.Mask
	}
	r, c := w.Dims()
	block := c / units
	nc := len(keep) * block
	nw := mat.NewDense(r, nc, nil)
	var nm []bool
	if mask != nil {
		nm = make([]bool, r*nc)
	}
	for i := 0; i < r; i++ {
		src, dst := w.RawRowView(i), nw.RawRowView(i)
		for j, k := range keep {
			copy(dst[j*block:(j+1)*block], src[k*block:(k+1)*block])
			if mask != nil {
				copy(nm[i*nc+j*block:i*nc+(j+1)*block], mask[i*c+k*block:i*c+(k+1)*block])
			}
		}
	}
	switch l := l.(type) {
	case *Linear:
		l.W, l.Mask = nw, nm
	case *Conv2d:
		l.W, l.Mask = nw, nm
		l.InC = len(keep)
	}
}

// PruneUnstructured returns a copy of net in which, in every [Linear] and [Conv2d] layer
// (the output layer included), the round(sparsity·n) weights of smallest magnitude out of
// the layer's n weights are set to zero and masked, so that training keeps them at zero.
// Ties in magnitude are broken by position (the lower row-major index first). Weights
// that were masked already stay masked, so a layer may end sparser than asked. Biases are
// never pruned. sparsity must be in [0, 1).
func PruneUnstructured(net *Network, sparsity float64) (*Network, error) {
	if !(sparsity >= 0 && sparsity < 1) {
		return nil, pruneErr("sparsity %v: want a value in [0, 1)", sparsity)
	}
	if err := net.Validate(); err != nil {
		return nil, fmt.Errorf("model: prune: %w", err)
	}
	out := net.Clone()
	compact(out)
	for _, l := range out.Layers {
		var mask *[]bool
		switch l := l.(type) {
		case *Linear:
			mask = &l.Mask
		case *Conv2d:
			mask = &l.Mask
		default:
			continue
		}
		w := denseData(weightsOf(l))
		n := len(w)
		k := int(math.Round(sparsity * float64(n)))
		if *mask == nil {
			*mask = make([]bool, n)
			for i := range *mask {
				(*mask)[i] = true
			}
		}
		m := *mask
		order := make([]int, n)
		for i := range order {
			order[i] = i
		}
		// Masked weights first, then by magnitude, then by index.
		slices.SortStableFunc(order, func(a, b int) int {
			if m[a] != m[b] {
				if !m[a] {
					return -1
				}
				return 1
			}
			return cmp.Compare(math.Abs(w[a]), math.Abs(w[b]))
		})
		for _, i := range order[:k] {
			m[i] = false
			w[i] = 0
		}
	}
	return out, nil
}
