package dataset

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"gonum.org/v1/gonum/mat"
)

// ReadCSV reads a labelled data set from comma-separated text (gzip-compressed text is
// detected and accepted). file names the input in errors and becomes the Dataset's Name.
//
// Format:
//   - Every column but the label column is a feature and must hold a finite number
//     (strconv.ParseFloat syntax; NaN and Inf are rejected). Every row has the same
//     number of fields. Blank lines are skipped; fields may be quoted.
//   - A first row that is not all numbers is a header of column names.
//   - The label column is the last one, or the one named by [WithLabelColumn] (the file
//     must then have a header).
//   - Labels are the integers 0..K-1 ("3" or "3.0"); they are not remapped. K is set by
//     [WithClasses], or else it is the largest label plus one (at most [MaxClasses]) and
//     every class 0..K-1 must have at least one sample.
//
// Errors are [*FormatError]s naming file and the 1-based line: a ragged row, a
// non-numeric, NaN or infinite value, a label that is not an integer or is out of range,
// a header naming no such label column, a truncated stream, or no data rows at all
// (also matching [ErrEmpty]).
func ReadCSV(r io.Reader, file string, opts ...Option) (*Dataset, error) {
	return readCSV(r, file, newConfig(opts))
}

// csvState accumulates rows while reading.
type csvState struct {
	file     string
	cfg      config
	ncols    int      // fields per row; 0 until known
	colLine  int      // line that fixed ncols
	labelCol int      // index of the label column
	names    []string // header names, nil without a header
	maxLabel int      // labels must be below this
	data     []float64
	labels   []int
	// From an sklearn-style header:
	wantRows   int
	classNames []string
}

func readCSV(r io.Reader, file string, cfg config) (*Dataset, error) {
	in, err := decompress(r)
	if err != nil {
		return nil, fileError(file, "%w", err)
	}
	sr := &stickyReader{r: in}
	cr := csv.NewReader(sr)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	st := &csvState{file: file, cfg: cfg, wantRows: -1, labelCol: -1}
	first := true
	lastLine := 0
	for {
		rec, err := cr.Read()
		if sr.err != nil {
			return nil, lineError(file, lastLine+1, "%w", truncatedOr(sr.err))
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, lineError(file, pe.Line, "column %d: %w", pe.Column, pe.Err)
			}
			return nil, lineError(file, lastLine+1, "%w", truncatedOr(err))
		}
		line, _ := cr.FieldPos(0)
		if first {
			first = false
			used, err := st.header(rec, line)
			if err != nil {
				return nil, err
			}
			if used {
				lastLine = line
				continue
			}
		}
		if err := st.row(rec, line); err != nil {
			return nil, err
		}
		// The record's last line (quoted fields may span lines).
		lastLine, _ = cr.FieldPos(len(rec) - 1)
	}
	return st.finish()
}

// header inspects the first record: it fixes the column count and the label column and
// reports whether the record was a header (and so holds no sample).
func (st *csvState) header(rec []string, line int) (bool, error) {
	st.ncols, st.colLine = len(rec), line
	isHeader := false
	switch st.cfg.header {
	case headerSklearn:
		// ROWS,FEATURES,CLASSNAME... : the samples then have FEATURES+1 columns.
		if len(rec) < 3 {
			return false, lineError(st.file, line, "header %q: want ROWS,FEATURES,CLASSNAME...", strings.Join(rec, ","))
		}
		rows, err1 := strconv.Atoi(strings.TrimSpace(rec[0]))
		feats, err2 := strconv.Atoi(strings.TrimSpace(rec[1]))
		if err1 != nil || err2 != nil || rows < 1 || feats < 1 {
			return false, lineError(st.file, line, "header %q: want positive ROWS,FEATURES", strings.Join(rec[:2], ","))
		}
		st.wantRows = rows
		st.ncols = feats + 1
		for _, n := range rec[2:] {
			st.classNames = append(st.classNames, strings.TrimSpace(n))
		}
		if st.cfg.classes == 0 {
			st.cfg.classes = len(st.classNames)
		}
		isHeader = true
	default:
		for _, f := range rec {
			if _, err := strconv.ParseFloat(strings.TrimSpace(f), 64); err != nil {
				isHeader = true
				break
			}
		}
		if isHeader {
			st.names = make([]string, len(rec))
			for i, f := range rec {
				st.names[i] = strings.TrimSpace(f)
			}
		}
	}
	if st.ncols < 2 {
		return false, lineError(st.file, line, "%d column(s); want at least one feature column and a label column", st.ncols)
	}
	st.labelCol = st.ncols - 1
	if name := st.cfg.labelColumn; name != "" {
		if st.names == nil {
			return false, lineError(st.file, line, "label column %q asked for, but the first row is not a header (it is all numbers)", name)
		}
		st.labelCol = -1
		for i, n := range st.names {
			if n != name {
				continue
			}
			if st.labelCol >= 0 {
				return false, lineError(st.file, line, "header names column %q twice (columns %d and %d)", name, st.labelCol+1, i+1)
			}
			st.labelCol = i
		}
		if st.labelCol < 0 {
			return false, lineError(st.file, line, "header has no column named %q (columns: %s)", name, quoteAll(st.names))
		}
	}
	st.maxLabel = MaxClasses
	if st.cfg.classes > 0 {
		st.maxLabel = st.cfg.classes
	}
	return isHeader, nil
}

// row parses one sample.
func (st *csvState) row(rec []string, line int) error {
	if len(rec) != st.ncols {
		return lineError(st.file, line, "%d fields, want %d (as on line %d)", len(rec), st.ncols, st.colLine)
	}
	for i, f := range rec {
		f = strings.TrimSpace(f)
		if i == st.labelCol {
			y, err := st.label(f)
			if err != nil {
				return lineError(st.file, line, "%w", err)
			}
			st.labels = append(st.labels, y)
			continue
		}
		v, err := strconv.ParseFloat(f, 64)
		switch {
		case err != nil && !errors.Is(err, strconv.ErrRange):
			return lineError(st.file, line, "%s: %q is not a number", st.column(i), f)
		case math.IsNaN(v):
			return lineError(st.file, line, "%s: NaN is not allowed", st.column(i))
		case math.IsInf(v, 0):
			return lineError(st.file, line, "%s: infinite value %q is not allowed", st.column(i), f)
		}
		st.data = append(st.data, v)
	}
	return nil
}

// label parses a class label: an integer in 0..maxLabel-1.
func (st *csvState) label(f string) (int, error) {
	v, err := strconv.ParseFloat(f, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, fmt.Errorf("%s: label %q is not a number", st.column(st.labelCol), f)
	}
	if math.IsNaN(v) || math.IsInf(v, 0) || v != math.Trunc(v) {
		return 0, fmt.Errorf("%s: label %q is not an integer", st.column(st.labelCol), f)
	}
	if v < 0 || v >= float64(st.maxLabel) {
		why := fmt.Sprintf("at most %d classes", MaxClasses)
		if st.cfg.classes > 0 {
			why = fmt.Sprintf("%d classes", st.cfg.classes)
		}
		return 0, fmt.Errorf("%s: label %s out of range 0..%d (%s)", st.column(st.labelCol), f, st.maxLabel-1, why)
	}
	return int(v), nil
}

// column names column i (0-based) for messages: "column 3" or `column 3 ("age")`.
func (st *csvState) column(i int) string {
	if st.names != nil && st.names[i] != "" {
		return fmt.Sprintf("column %d (%q)", i+1, st.names[i])
	}
	return fmt.Sprintf("column %d", i+1)
}

// finish checks the counts and builds the Dataset.
func (st *csvState) finish() (*Dataset, error) {
	n := len(st.labels)
	if n == 0 {
		return nil, &FormatError{File: st.file, Offset: -1, Err: causeError{"no data rows", ErrEmpty}}
	}
	if st.wantRows >= 0 && n != st.wantRows {
		return nil, fileError(st.file, "%d data rows, but the header announces %d", n, st.wantRows)
	}
	k := st.cfg.classes
	if k == 0 {
		for _, y := range st.labels {
			k = max(k, y+1)
		}
		seen := make([]bool, k)
		for _, y := range st.labels {
			seen[y] = true
		}
		for c, ok := range seen {
			if !ok {
				return nil, fileError(st.file, "no sample has label %d; labels must be the integers 0..K-1 with every class present (K = %d, the largest label plus one)", c, k)
			}
		}
	}
	if st.classNames != nil && len(st.classNames) != k {
		return nil, fileError(st.file, "%d class names in the header for %d classes", len(st.classNames), k)
	}
	return &Dataset{
		Name:       st.file,
		X:          mat.NewDense(n, st.ncols-1, st.data),
		Y:          st.labels,
		Classes:    k,
		ClassNames: st.classNames,
	}, nil
}

// quoteAll lists names quoted, comma-separated.
func quoteAll(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return strings.Join(q, ", ")
}
