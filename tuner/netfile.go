package tuner

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/fhetune/fhetune/tuner/dataset"
	"github.com/fhetune/fhetune/tuner/model"
	"github.com/fhetune/fhetune/tuner/onnx"
)

// ErrStandardize says a standardizer was asked for a network that has one.
var ErrStandardize = errors.New("the network standardizes its inputs already")

// IsONNX says whether path names an ONNX file (by its .onnx extension).
func IsONNX(path string) bool { return strings.EqualFold(filepath.Ext(path), ".onnx") }

// LoadNetwork reads a network file: an ONNX model exported by PyTorch (a path ending in
// .onnx, through tuner/onnx) or fhetune's own model format (tuner/model). Errors wrap
// onnx.ErrFormat, onnx.ErrUnsupported, model.ErrFormat, model.ErrVersion or the fs error.
func LoadNetwork(path string) (*model.Network, error) {
	if IsONNX(path) {
		return onnx.Read(path)
	}
	return model.Load(path)
}

// BadNetworkFile says whether err (from LoadNetwork) is the file's fault: missing,
// malformed, of an unknown version or using what fhetune cannot represent.
func BadNetworkFile(err error) bool {
	for _, target := range []error{onnx.ErrFormat, onnx.ErrUnsupported, model.ErrFormat, model.ErrVersion} {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

// Standardize fits a standardizer on the task's training inputs and gives it to net,
// for an imported network trained on standardized data that does not carry its
// standardizer (fhetune applies none to imported networks unless asked). A network
// that has one already gives ErrStandardize.
func Standardize(net *model.Network, t Task) error {
	if net.Standardizer != nil {
		return fmt.Errorf("tuner: %w", ErrStandardize)
	}
	std := model.Standardizer(dataset.FitStandardizer(t.Train.X))
	net.Standardizer = &std
	return nil
}
