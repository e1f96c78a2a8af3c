package parego

import (
	"math"
	"slices"

	"gonum.org/v1/gonum/mat"
)

// gp is a Gaussian process with a squared-exponential kernel of one length scale per
// dimension and unit signal variance, fitted to standardized values. Written here
// because gonum has no Gaussian process; it uses gonum's Cholesky factorization.
type gp struct {
	x     [][]float64
	ls    []float64     // length scale per dimension
	alpha *mat.VecDense // K⁻¹ y
	chol  mat.Cholesky  // of K
	linv  *mat.TriDense // L⁻¹, where K = L Lᵀ (nil: not invertible)
	mean  float64       // of the values before standardizing
	scale float64       // their standard deviation
}

// fitGP fits the process to values y at points x (see the package doc for the search
// over length scales and noise). x must not be empty.
func fitGP(x [][]float64, y []float64) *gp {
	n, d := len(x), len(x[0])
	mean := 0.0
	for _, v := range y {
		mean += v
	}
	mean /= float64(n)
	sd := 0.0
	for _, v := range y {
		sd += (v - mean) * (v - mean)
	}
	sd = math.Sqrt(sd/float64(n)) + 1e-12
	ys := mat.NewVecDense(n, nil)
	for i, v := range y {
		ys.SetVec(i, (v-mean)/sd)
	}
	// sq[i][j][k] is the squared difference of points i < j in dimension k.
	sq := make([][][]float64, n)
	for i := range sq {
		sq[i] = make([][]float64, n)
		for j := i + 1; j < n; j++ {
			sq[i][j] = make([]float64, d)
			for k := range d {
				t := x[i][k] - x[j][k]
				sq[i][j][k] = t * t
			}
		}
	}
	var (
		best   *gp
		bestLL = math.Inf(-1)
		noise  float64
	)
	try := func(ls []float64, nz float64) {
		g, ll := fitWith(x, sq, ys, ls, nz)
		if g != nil && ll > bestLL {
			g.mean, g.scale = mean, sd
			best, bestLL, noise = g, ll, nz
		}
	}
	for _, l := range []float64{0.1, 0.15, 0.2, 0.3, 0.45, 0.7, 1} {
		for _, nz := range []float64{1e-4, 1e-2, 0.1} {
			ls := make([]float64, d)
			for i := range ls {
				ls[i] = l
			}
			try(ls, nz)
		}
	}
	if best == nil { // every grid point failed to factorize: fall back to heavy noise
		ls := make([]float64, d)
		for i := range ls {
			ls[i] = 1
		}
		best, _ = fitWith(x, sq, ys, ls, 1)
		best.mean, best.scale = mean, sd
		best.invert()
		return best
	}
	for pass := 0; pass < 2; pass++ {
		for i := 0; i < d; i++ {
			base := best.ls
			for _, f := range []float64{0.5, 2, 4} {
				ls := slices.Clone(base)
				ls[i] = min(ls[i]*f, 10)
				try(ls, noise)
			}
		}
	}
	best.invert()
	return best
}

// fitWith factorizes the kernel matrix for length scales ls and noise variance nz (sq
// holds the points' squared differences) and returns the process with its log marginal
// likelihood (up to a constant), or nil when the matrix is not positive definite.
func fitWith(x [][]float64, sq [][][]float64, ys *mat.VecDense, ls []float64, nz float64) (*gp, float64) {
	n := len(x)
	inv := make([]float64, len(ls))
	for k, l := range ls {
		inv[k] = 1 / (l * l)
	}
	k := mat.NewSymDense(n, nil)
	for i := 0; i < n; i++ {
		k.SetSym(i, i, 1+nz)
		for j := i + 1; j < n; j++ {
			d2 := 0.0
			for c, s := range sq[i][j] {
				d2 += s * inv[c]
			}
			k.SetSym(i, j, math.Exp(-0.5*d2))
		}
	}
	g := &gp{x: x, ls: slices.Clone(ls), alpha: mat.NewVecDense(n, nil)}
	if !g.chol.Factorize(k) {
		return nil, math.Inf(-1)
	}
	if err := g.chol.SolveVecTo(g.alpha, ys); err != nil {
		return nil, math.Inf(-1)
	}
	return g, -0.5*mat.Dot(ys, g.alpha) - 0.5*g.chol.LogDet()
}

// invert computes L⁻¹ of the chosen fit, which predict uses for the variance.
func (g *gp) invert() {
	var l mat.TriDense
	g.chol.LTo(&l)
	g.linv = mat.NewTriDense(len(g.x), mat.Lower, nil)
	if err := g.linv.InverseTri(&l); err != nil {
		g.linv = nil // predict then gives the prior variance
	}
}

func kernel(a, b, ls []float64) float64 {
	d2 := 0.0
	for i := range a {
		t := (a[i] - b[i]) / ls[i]
		d2 += t * t
	}
	return math.Exp(-0.5 * d2)
}

// predict returns the posterior mean and standard deviation at u, in the values' units.
func (g *gp) predict(u []float64) (mu, sd float64) {
	n := len(g.x)
	k := mat.NewVecDense(n, nil)
	for i := range g.x {
		k.SetVec(i, kernel(u, g.x[i], g.ls))
	}
	variance := 1.0
	if g.linv != nil {
		var v mat.VecDense
		v.MulVec(g.linv, k)
		variance = max(1-mat.Dot(&v, &v), 1e-12)
	}
	return g.mean + g.scale*mat.Dot(k, g.alpha), g.scale * math.Sqrt(variance)
}
