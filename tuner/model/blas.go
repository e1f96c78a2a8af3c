package model

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"
)

// gemm computes c = alpha·op(a)·op(b) + beta·c with gonum's BLAS, where op transposes
// when the flag is set. The shapes must agree; c must not alias a or b.
func gemm(transA, transB bool, alpha float64, a, b *mat.Dense, beta float64, c *mat.Dense) {
	ta, tb := blas.NoTrans, blas.NoTrans
	if transA {
		ta = blas.Trans
	}
	if transB {
		tb = blas.Trans
	}
	blas64.Gemm(ta, tb, alpha, a.RawMatrix(), b.RawMatrix(), beta, c.RawMatrix())
}

// reuse returns an r×c matrix backed by m's storage when it is large enough, else a new
// one. The contents are unspecified. r and c must be positive.
func reuse(m *mat.Dense, r, c int) *mat.Dense {
	if m != nil {
		raw := m.RawMatrix()
		if cap(raw.Data) >= r*c {
			return mat.NewDense(r, c, raw.Data[:r*c])
		}
	}
	return mat.NewDense(r, c, nil)
}

// fillRows sets every row of m to v (len(v) == columns of m).
func fillRows(m *mat.Dense, v []float64) {
	r, _ := m.Dims()
	for i := 0; i < r; i++ {
		copy(m.RawRowView(i), v)
	}
}

// addColSums adds the column sums of m to dst (len(dst) == columns of m).
func addColSums(dst []float64, m *mat.Dense) {
	r, _ := m.Dims()
	for i := 0; i < r; i++ {
		row := m.RawRowView(i)
		for j, v := range row {
			dst[j] += v
		}
	}
}

// denseData returns the row-major data of m as one slice of rows·cols numbers. Matrices
// made by this package have stride == cols; for any other m the data are copied.
func denseData(m *mat.Dense) []float64 {
	raw := m.RawMatrix()
	if raw.Stride == raw.Cols {
		return raw.Data[:raw.Rows*raw.Cols]
	}
	c := mat.DenseCopyOf(m)
	return c.RawMatrix().Data
}
