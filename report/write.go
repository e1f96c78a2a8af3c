package report

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// allFormats are the plot file formats Write knows, in the order it writes them.
var allFormats = []string{"png", "svg"}

// IndexFile is the name of the report's HTML page inside its directory.
const IndexFile = "index.html"

// plotNames are the stems of every plot file a report may hold.
var plotNames = []string{"pareto", "history", "knobs", "layers"}

// Options tunes [Write]. The zero value writes every format.
type Options struct {
	// Formats lists the plot file formats to write, among png and svg; empty means both.
	// index.html always embeds the plots as inline SVG, whatever the formats.
	Formats []string
}

// File is one file of a rendered report.
type File struct {
	Name string // base name inside the report directory, e.g. "pareto.png"
	Data []byte
}

// Render validates s and renders the report's files in memory, index.html last. It is
// what [Write] writes; it touches no file system.
//
// A study with complete trials gets the pareto, knobs (when a complete trial holds a
// knob), history (when s.History is not empty) and layers (when the chosen trial has
// layers) plots in each format, and index.html. A study without complete trials gets
// index.html only, saying so.
func Render(s Study, opts Options) ([]File, error) {
	formats, err := opts.formats()
	if err != nil {
		return nil, err
	}
	v, err := newView(&s)
	if err != nil {
		return nil, err
	}
	var figs []figure
	if len(v.complete) > 0 {
		figs = append(figs, paretoFigure(v))
		if len(v.historyPts) > 0 {
			figs = append(figs, historyFigure(v))
		}
		if len(v.knobs) > 0 {
			figs = append(figs, knobsFigure(v))
		}
		if v.chosen != nil && len(v.chosen.Layers) > 0 {
			figs = append(figs, layersFigure(v))
		}
	}
	var files []File
	svgs := make([][]byte, len(figs))
	for i, f := range figs {
		svg, err := f.svg()
		if err != nil {
			return nil, fmt.Errorf("report: study %q: %w", s.Name, err)
		}
		svgs[i] = svg
		for _, format := range formats {
			data := svg
			if format == "png" {
				if data, err = f.png(); err != nil {
					return nil, fmt.Errorf("report: study %q: %w", s.Name, err)
				}
			}
			files = append(files, File{Name: f.name + "." + format, Data: data})
		}
	}
	index, err := indexHTML(v, figs, svgs)
	if err != nil {
		return nil, fmt.Errorf("report: study %q: %w", s.Name, err)
	}
	return append(files, File{Name: IndexFile, Data: index}), nil
}

func (o Options) formats() ([]string, error) {
	if len(o.Formats) == 0 {
		return allFormats, nil
	}
	var out []string
	for _, f := range o.Formats {
		if !slices.Contains(allFormats, f) {
			return nil, fmt.Errorf("%w %q (want png or svg)", ErrUnknownFormat, f)
		}
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	// Keep the package's order, whatever the caller's.
	slices.SortFunc(out, func(a, b string) int { return slices.Index(allFormats, a) - slices.Index(allFormats, b) })
	return out, nil
}

// Write renders the report of s (see [Render]) and writes it to the directory dir,
// creating dir and its parents as needed. Nothing is written unless everything rendered.
//
// Writing is all-or-nothing where the file system allows it. A new dir is built as a
// temporary directory beside it and renamed into place. In an existing dir, the files
// are written to a temporary directory inside it and then renamed over the old ones,
// index.html last; report files the new report does not have (a layers plot, say) are
// removed, and other files are left alone. A failure before the renames leaves dir as it
// was.
//
// Errors wrap [ErrInvalidStudy], [ErrUnknownFormat] or, for a dir that cannot be created
// or written, [ErrOutputDir] with the path.
func Write(dir string, s Study, opts Options) error {
	files, err := Render(s, opts)
	if err != nil {
		return err
	}
	return writeFiles(dir, files)
}

// WriteFiles writes files made by [Render] to the directory dir, all-or-nothing as
// [Write] does, so that a caller that renders once can also say which files it wrote.
// Each name must be a plain file name (no folder); errors wrap [ErrOutputDir] with the
// path.
func WriteFiles(dir string, files []File) error {
	for _, f := range files {
		if f.Name == "" || f.Name == "." || f.Name == ".." || filepath.Base(f.Name) != f.Name || strings.ContainsAny(f.Name, `/\`) {
			return fmt.Errorf("%w %q: file name %q is not a plain name", ErrOutputDir, dir, f.Name)
		}
	}
	return writeFiles(dir, files)
}

// writeFiles puts files into dir all-or-nothing (see Write).
func writeFiles(dir string, files []File) error {
	if dir == "" {
		return fmt.Errorf("%w: the path is empty", ErrOutputDir)
	}
	info, err := os.Stat(dir)
	switch {
	case err == nil && !info.IsDir():
		return fmt.Errorf("%w %q: it exists and is not a directory", ErrOutputDir, dir)
	case err == nil:
		return replaceIn(dir, files)
	case errors.Is(err, fs.ErrNotExist):
		return createNew(dir, files)
	default:
		return fmt.Errorf("%w %q: %w", ErrOutputDir, dir, err)
	}
}

// createNew builds the report in a temporary directory beside dir and renames it to dir.
func createNew(dir string, files []File) error {
	parent := filepath.Dir(filepath.Clean(dir))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("%w %q: %w", ErrOutputDir, dir, err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".tmp-")
	if err != nil {
		return fmt.Errorf("%w %q: %w", ErrOutputDir, dir, err)
	}
	if err := fill(tmp, files); err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("%w %q: %w", ErrOutputDir, dir, err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("%w %q: %w", ErrOutputDir, dir, err)
	}
	if err := os.Rename(tmp, filepath.Clean(dir)); err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("%w %q: %w", ErrOutputDir, dir, err)
	}
	return nil
}

// replaceIn writes the files to a temporary directory inside dir, then renames them over
// the old ones (index.html last, as files come) and removes stale report files.
func replaceIn(dir string, files []File) error {
	tmp, err := os.MkdirTemp(dir, ".fhetune-report.tmp-")
	if err != nil {
		return fmt.Errorf("%w %q: %w", ErrOutputDir, dir, err)
	}
	defer os.RemoveAll(tmp)
	if err := fill(tmp, files); err != nil {
		return fmt.Errorf("%w %q: %w", ErrOutputDir, dir, err)
	}
	keep := map[string]bool{}
	for _, f := range files {
		if err := os.Rename(filepath.Join(tmp, f.Name), filepath.Join(dir, f.Name)); err != nil {
			return fmt.Errorf("%w %q: %w", ErrOutputDir, dir, err)
		}
		keep[f.Name] = true
	}
	for _, stem := range plotNames {
		for _, format := range allFormats {
			name := stem + "." + format
			if keep[name] {
				continue
			}
			if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("%w %q: remove stale %s: %w", ErrOutputDir, dir, name, err)
			}
		}
	}
	return nil
}

// fill writes each file into dir and syncs it.
func fill(dir string, files []File) error {
	for _, f := range files {
		if err := writeSynced(filepath.Join(dir, f.Name), f.Data); err != nil {
			return err
		}
	}
	return nil
}

func writeSynced(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
