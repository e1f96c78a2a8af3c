package circuit

import (
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// explicitNorm2Sq builds the matrix of a stage's levelled map column by column (the
// operations applied to unit vectors, with constants and padding at zero) and returns
// its largest squared row norm.
func explicitNorm2Sq(s *stage) int64 {
	ops := make([]*intOp, len(s.ops))
	for i, op := range s.ops {
		cp := *op
		cp.c = make([]float64, len(op.c))
		cp.pad = 0
		ops[i] = &cp
	}
	in := mat.NewDense(s.inSize, s.inSize, nil)
	for j := 0; j < s.inSize; j++ {
		in.Set(j, j, 1)
	}
	cols := (&stage{ops: ops}).levelled(in) // row j = column j of the map
	_, out := cols.Dims()
	var best int64
	for a := 0; a < out; a++ {
		var sum int64
		for j := 0; j < s.inSize; j++ {
			v := int64(cols.At(j, a))
			sum += v * v
		}
		best = max(best, sum)
	}
	return best
}

func TestCompositeNorm2(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 9))
	for name, net := range map[string]*Network{"mlp": testMLP(rng), "cnn": testCNN(rng)} {
		x := mat.NewDense(50, net.InSize, nil)
		for i := range x.RawMatrix().Data {
			x.RawMatrix().Data[i] = rng.NormFloat64()
		}
		c, err := Compile(net, x, Config{NWBits: 5, NABits: 4, RoundingThresholdBits: 6})
		if err != nil {
			t.Fatal(err)
		}
		for i, s := range c.stages {
			got, want := compositeNorm2Sq(s.ops), explicitNorm2Sq(s)
			if len(s.ops) == 0 {
				want = 1
			}
			if got != want {
				t.Errorf("%s layer %s: norm² %d, explicit %d", name, c.Layers[i].Name, got, want)
			}
			if n := c.Layers[i].Norm2; n*n < want || (n-1)*(n-1) >= want {
				t.Errorf("%s layer %s: norm2 %d is not ⌈√%d⌉", name, c.Layers[i].Name, n, want)
			}
		}
	}
}

// TestConvMatchesNaive checks the im2col convolution on integers against the formula.
func TestConvMatchesNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	g := convGeom{OutC: 3, InC: 2, KH: 3, KW: 2, Stride: 2, Pad: 1, InH: 7, InW: 5}
	x := mat.NewDense(3, g.inSize(), nil)
	for i := range x.RawMatrix().Data {
		x.RawMatrix().Data[i] = float64(rng.IntN(15))
	}
	w := mat.NewDense(g.OutC, g.InC*g.KH*g.KW, nil)
	for i := range w.RawMatrix().Data {
		w.RawMatrix().Data[i] = float64(rng.IntN(7) - 3)
	}
	b := []float64{5, -2, 0}
	const pad = 4
	got := convForward(x, g, w, b, pad)
	oh, ow := g.outHW()
	for s := 0; s < 3; s++ {
		for o := 0; o < g.OutC; o++ {
			for p := 0; p < oh; p++ {
				for q := 0; q < ow; q++ {
					want := b[o]
					for c := 0; c < g.InC; c++ {
						for i := 0; i < g.KH; i++ {
							for j := 0; j < g.KW; j++ {
								y, xx := p*g.Stride-g.Pad+i, q*g.Stride-g.Pad+j
								v := float64(pad)
								if y >= 0 && y < g.InH && xx >= 0 && xx < g.InW {
									v = x.At(s, (c*g.InH+y)*g.InW+xx)
								}
								want += w.At(o, (c*g.KH+i)*g.KW+j) * v
							}
						}
					}
					if g := got.At(s, (o*oh+p)*ow+q); g != want {
						t.Fatalf("sample %d out %d (%d,%d): %v, want %v", s, o, p, q, g, want)
					}
				}
			}
		}
	}
}
