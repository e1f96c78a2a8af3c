package main

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/fhetune/fhetune/tuner"
	"github.com/fhetune/fhetune/tuner/model"
)

// modelInfo is what `fhetune model info --json` prints.
type modelInfo struct {
	File string `json:"file"`
	// Format is "fhetune" (FormatVersion set) or "onnx" (Opset set).
	Format        string            `json:"format"`
	FormatVersion int               `json:"format_version,omitempty"`
	Opset         string            `json:"opset,omitempty"`
	Bytes         int64             `json:"bytes"`
	Spec          string            `json:"spec"`
	Dataset       string            `json:"dataset"`
	Classes       int               `json:"classes"`
	InputShape    []int             `json:"input_shape"`
	Standardizer  bool              `json:"standardizer"`
	Params        int               `json:"params"`
	Weights       int               `json:"weights"`
	ZeroWeights   int               `json:"zero_weights"`
	Sparsity      float64           `json:"sparsity"`
	Layers        []modelLayerInfo  `json:"layers"`
	Meta          map[string]string `json:"meta"`
}

// modelLayerInfo describes one layer; kernel, stride and pad are set for conv2d and
// avgpool2d only.
type modelLayerInfo struct {
	Index       int     `json:"index"`
	Kind        string  `json:"kind"`
	InShape     []int   `json:"in_shape"`
	OutShape    []int   `json:"out_shape"`
	Params      int     `json:"params"`
	Weights     int     `json:"weights"`
	ZeroWeights int     `json:"zero_weights"`
	Sparsity    float64 `json:"sparsity"`
	Masked      bool    `json:"masked"`
	Kernel      []int   `json:"kernel,omitempty"`
	Stride      int     `json:"stride,omitempty"`
	Pad         int     `json:"pad,omitempty"`
	Dilation    int     `json:"dilation,omitempty"`
	Groups      int     `json:"groups,omitempty"`
	Alpha       float64 `json:"alpha,omitempty"`
}

func newModelInfoCmd(a *app) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "info FILE",
		Short: "Describe a model file: layers, shapes, parameters, sparsity, provenance",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			info, err := describeModel(args[0])
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(a.stdout, info)
			}
			return printModelInfo(a, info)
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print one JSON document")
	return c
}

func describeModel(path string) (modelInfo, error) {
	net, err := loadModelFile(path)
	if err != nil {
		return modelInfo{}, err
	}
	st, err := os.Stat(path)
	if err != nil {
		return modelInfo{}, fmt.Errorf("model info %s: %w", path, err)
	}
	shapes, err := net.Shapes()
	if err != nil {
		return modelInfo{}, fmt.Errorf("model info %s: %w", path, err) // Load validated it
	}
	w, z := net.Sparsity()
	info := modelInfo{
		File: path, Format: "fhetune", FormatVersion: model.FormatVersion, Bytes: st.Size(),
		Spec: net.Spec, Dataset: net.Dataset, Classes: net.Classes, InputShape: net.InShape,
		Standardizer: net.Standardizer != nil, Params: net.NumParams(),
		Weights: w, ZeroWeights: z, Sparsity: ratio(z, w), Meta: net.Meta,
	}
	if info.Meta == nil {
		info.Meta = map[string]string{}
	}
	if tuner.IsONNX(path) {
		info.Format, info.FormatVersion, info.Opset = "onnx", 0, info.Meta["opset"]
	} else if b, err := os.ReadFile(path); err == nil {
		// The version the file was written in, which Load may have read from an older one.
		if v, err := model.FileVersion(b); err == nil {
			info.FormatVersion = v
		}
	}
	in := net.InShape
	for i, l := range net.Layers {
		lw, lz := model.LayerSparsity(l)
		li := modelLayerInfo{Index: i, Kind: l.Kind(), InShape: in, OutShape: shapes[i], Params: l.NumParams(),
			Weights: lw, ZeroWeights: lz, Sparsity: ratio(lz, lw)}
		switch l := l.(type) {
		case *model.Linear:
			li.Masked = l.Mask != nil
		case *model.Conv2d:
			li.Masked = l.Mask != nil
			li.Kernel, li.Stride, li.Pad = []int{l.KH, l.KW}, l.Stride, l.Pad
			li.Dilation, li.Groups = max(l.Dilation, 1), max(l.Groups, 1)
		case *model.AvgPool2d:
			li.Kernel, li.Stride = []int{l.K, l.K}, l.Stride
		case *model.MaxPool2d:
			li.Kernel, li.Stride = []int{l.K, l.K}, l.Stride
		case model.Activation:
			if l.Func == model.LeakyReLU {
				li.Alpha = l.Alpha
			}
		}
		info.Layers = append(info.Layers, li)
		in = shapes[i]
	}
	return info, nil
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func shapeString(s []int) string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = fmt.Sprint(d)
	}
	return strings.Join(parts, "×")
}

func printModelInfo(a *app, info modelInfo) error {
	std := "no"
	if info.Standardizer {
		std = "yes"
	}
	if info.Format == "onnx" {
		fmt.Fprintf(a.stdout, "%s: ONNX model, opset %s, %d bytes\n", info.File, info.Opset, info.Bytes)
	} else {
		fmt.Fprintf(a.stdout, "%s: fhetune model file version %d, %d bytes\n", info.File, info.FormatVersion, info.Bytes)
	}
	fmt.Fprintf(a.stdout, "spec %s, data set %s, input %s, %d classes, standardizer %s\n",
		orDash(info.Spec), orDash(info.Dataset), shapeString(info.InputShape), info.Classes, std)
	fmt.Fprintf(a.stdout, "%d parameters; %d of %d weights zero (sparsity %.4f)\n", info.Params, info.ZeroWeights, info.Weights, info.Sparsity)
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tlayer\tin\tout\tparams\tsparsity\tdetails")
	for _, l := range info.Layers {
		details := ""
		switch l.Kind {
		case "conv2d":
			details = fmt.Sprintf("kernel %s stride %d pad %d", shapeString(l.Kernel), l.Stride, l.Pad)
			if l.Dilation > 1 {
				details += fmt.Sprintf(" dilation %d", l.Dilation)
			}
			if l.Groups > 1 {
				details += fmt.Sprintf(" groups %d", l.Groups)
			}
		case "avgpool2d", "maxpool2d":
			details = fmt.Sprintf("window %s stride %d", shapeString(l.Kernel), l.Stride)
		case "leaky_relu":
			details = fmt.Sprintf("alpha %.4g", l.Alpha)
		}
		if l.Masked {
			details = strings.TrimSpace(details + " masked")
		}
		sp := "-"
		if l.Weights > 0 {
			sp = fmt.Sprintf("%.4f", l.Sparsity)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\t%s\n", l.Index, l.Kind, shapeString(l.InShape), shapeString(l.OutShape), l.Params, sp, details)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	keys := make([]string, 0, len(info.Meta))
	for k := range info.Meta {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if len(keys) > 0 {
		fmt.Fprintln(a.stdout, "provenance:")
	}
	for _, k := range keys {
		fmt.Fprintf(a.stdout, "  %s: %s\n", k, info.Meta[k])
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
