package report

import (
	"bytes"
	"fmt"
	"html"
	"strconv"
	"strings"

	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// pngDPI is the resolution of PNG output: a 9-inch-wide plot is 1350 pixels wide.
const pngDPI = 150

// margin is the white space around every figure.
const margin = vg.Length(5)

// figure is one plot, ready to draw on any canvas.
type figure struct {
	name    string    // file stem: pareto, history, knobs, layers
	caption string    // one line under the plot in index.html
	w, h    vg.Length // size
	draw    func(dc draw.Canvas)
}

// render draws the figure on c, turning a panic of the plotting library into an error.
func (f figure) render(c vg.CanvasSizer) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("draw %s plot: %v", f.name, r)
		}
	}()
	dc := draw.New(c)
	f.draw(draw.Crop(dc, margin, -margin, margin, -margin))
	return nil
}

// png renders the figure as a PNG image.
func (f figure) png() ([]byte, error) {
	c := vgimg.NewWith(vgimg.UseWH(f.w, f.h), vgimg.UseDPI(pngDPI))
	if err := f.render(c); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: c}).WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("encode %s.png: %w", f.name, err)
	}
	return buf.Bytes(), nil
}

// svg renders the figure as a standalone SVG document.
func (f figure) svg() ([]byte, error) {
	c := vgsvg.New(f.w, f.h)
	if err := f.render(c); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("encode %s.svg: %w", f.name, err)
	}
	return fontFallback(buf.Bytes()), nil
}

// fontFallback makes SVG text name fallbacks after Liberation Sans, which has Arial's
// metrics, for viewers that lack it.
func fontFallback(svg []byte) []byte {
	return bytes.ReplaceAll(svg, []byte("font-family:Liberation Sans;"),
		[]byte("font-family:'Liberation Sans',Arial,Helvetica,sans-serif;"))
}

// inlineSVG turns a standalone SVG document from vgsvg into an element to embed in HTML:
// without the XML declaration, comment and namespace attributes (an HTML parser puts
// <svg> in the SVG namespace itself), sized in CSS pixels and labelled for screen
// readers.
func inlineSVG(doc []byte, f figure, label string) (string, error) {
	s := string(doc)
	start := strings.Index(s, "<svg")
	if start < 0 {
		return "", fmt.Errorf("inline %s.svg: no <svg> element", f.name)
	}
	end := strings.Index(s[start:], ">")
	if end < 0 {
		return "", fmt.Errorf("inline %s.svg: unterminated <svg> tag", f.name)
	}
	body := s[start+end+1:]
	wpt, hpt := f.w.Points(), f.h.Points()
	open := fmt.Sprintf(`<svg class="plot" viewBox="0 0 %s %s" width="%s" height="%s" role="img" aria-label="%s">`,
		ptStr(wpt), ptStr(hpt), ptStr(wpt*4/3), ptStr(hpt*4/3), html.EscapeString(label))
	return open + body, nil
}

func ptStr(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }
