package dataset

// DefaultFashionMNISTDir is where Debian's dataset-fashion-mnist package puts the
// Fashion-MNIST IDX files.
const DefaultFashionMNISTDir = "/usr/share/datasets/fashion-mnist"

// MaxClasses bounds the number of classes a reader accepts, so that a stray value in a
// label column is reported as out of range rather than creating a million classes.
const MaxClasses = 1000

// Option adjusts how [Load] and the readers work.
type Option func(*config)

type config struct {
	dataDir     string // folder of the Fashion-MNIST IDX files
	labelColumn string // CSV label column by header name; "" = last column
	classes     int    // number of classes; 0 = max label + 1
	header      csvHeader
}

// csvHeader says how the first CSV line is read.
type csvHeader int

const (
	headerAuto    csvHeader = iota // a first row that is not all numbers is a header
	headerSklearn                  // "ROWS,FEATURES,CLASSNAME..." as in sklearn's bundled CSVs
)

func newConfig(opts []Option) config {
	c := config{dataDir: DefaultFashionMNISTDir}
	for _, o := range opts {
		o(&c)
	}
	return c
}

// WithDataDir sets the folder holding the Fashion-MNIST IDX files
// (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz,
// t10k-labels-idx1-ubyte.gz; uncompressed files without ".gz" are accepted too).
// Default [DefaultFashionMNISTDir]. An empty dir keeps the default.
func WithDataDir(dir string) Option {
	return func(c *config) {
		if dir != "" {
			c.dataDir = dir
		}
	}
}

// WithLabelColumn picks the CSV label column by its header name; the file must then
// have a header row. Default: the last column.
func WithLabelColumn(name string) Option {
	return func(c *config) { c.labelColumn = name }
}

// WithClasses fixes the number of classes K of a CSV or NumPy input: a label of K or
// more is an error. Default (k ≤ 0): K is the largest label plus one, at most [MaxClasses], and every
// class 0..K-1 must have a sample.
func WithClasses(k int) Option {
	return func(c *config) { c.classes = k }
}
