package report_test

import (
	"context"
	"image"
	"image/color"
	"net/url"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/fhetune/fhetune/report"
)

// frameColour is the 1-pixel border of each figure in index.html (figure.plot in the
// page's CSS); the test finds the plots on the screenshot by it.
const frameColour = "#C9D1DB"

// findChromium returns the path of Debian's chromium, or "".
func findChromium() string {
	for _, name := range []string{"chromium", "/usr/bin/chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// TestBrowserScreenshot opens index.html in headless Chromium, offline, and checks on
// the screenshot that the plots rendered where the page puts them.
func TestBrowserScreenshot(t *testing.T) {
	chromium := findChromium()
	if chromium == "" {
		t.Skip("chromium not found: install Debian's chromium package (apt-get install -y chromium) to run this test")
	}
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "report")
	if err := report.Write(dir, loadFixture(t), report.Options{Formats: []string{"svg"}}); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(t.TempDir(), "screenshot.png")
	page := url.URL{Scheme: "file", Path: filepath.Join(dir, report.IndexFile)}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+t.TempDir(), "--screenshot="+shot, "--window-size=1280,2000",
		page.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, tail(out, 2000))
	}
	img := decodePNG(t, shot)
	if got := img.Bounds().Size(); got != (image.Point{1280, 2000}) {
		t.Fatalf("screenshot is %v, want 1280x2000", got)
	}

	frames := findFrames(img, frameColour, 400)
	// At 1280x2000 the page shows the Pareto and history plots whole and the top of the
	// knobs plot.
	if len(frames) < 3 || !frames[0].whole || !frames[1].whole {
		t.Fatalf("found figure frames %+v; want the pareto and history plots whole and one more below", frames)
	}
	for i, f := range frames {
		inner := f.rect.Inset(3)
		st := pixelStats(img, inner)
		if st.distinct < 40 || st.inked < 0.03 {
			t.Errorf("frame %d at %v: %d distinct colours, %.1f%% non-white: the plot did not render",
				i, f.rect, st.distinct, 100*st.inked)
		}
	}
	// The plots' own colours are there: trial and front markers and a pick ring in the
	// Pareto plot, the best-accuracy line in the history plot, markers in the knobs plot.
	for _, want := range []struct {
		frame  int
		colour string
		min    int
	}{
		{0, report.ColTrial, 200}, {0, report.ColFront, 300}, {0, report.ColPick, 30},
		{1, report.ColBest, 150}, {1, report.ColFront, 150},
		{2, report.ColTrial, 100},
	} {
		if n := countColour(img, frames[want.frame].rect, want.colour, 2); n < want.min {
			t.Errorf("frame %d has %d pixels of %s, want ≥ %d", want.frame, n, want.colour, want.min)
		}
	}
	// The frames are the page's layout: one column, plots one under another, as wide as
	// its max-width of 880 CSS pixels plus padding and border.
	for i, f := range frames {
		if w := f.rect.Dx(); w < 870 || w > 1000 {
			t.Errorf("frame %d is %d pixels wide, want about 898", i, w)
		}
		if i > 0 && f.rect.Min.Y <= frames[i-1].rect.Max.Y {
			t.Errorf("frame %d starts at y=%d, above the end of frame %d", i, f.rect.Min.Y, i-1)
		}
	}
}

// frame is a figure's border found on a screenshot.
type frame struct {
	rect  image.Rectangle
	whole bool // its bottom edge is on the screenshot
}

// findFrames finds rectangles drawn with a 1-pixel border of a colour: horizontal runs of
// at least minRun pixels pair up as top and bottom edges with the same extent; a top edge
// without a bottom one is a frame cut by the bottom of the image.
func findFrames(img image.Image, hex string, minRun int) []frame {
	r, g, b := report.RGB(hex)
	want := color.RGBA{R: r, G: g, B: b, A: 0xFF}
	type run struct{ y, x0, x1 int }
	var runs []run
	bounds := img.Bounds()
	for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
		start := -1
		for x := bounds.Min.X; x <= bounds.Max.X; x++ {
			on := x < bounds.Max.X && color.RGBAModel.Convert(img.At(x, y)).(color.RGBA) == want
			switch {
			case on && start < 0:
				start = x
			case !on && start >= 0:
				if x-start >= minRun {
					runs = append(runs, run{y, start, x})
				}
				start = -1
			}
		}
	}
	var frames []frame
	for len(runs) > 0 {
		top := runs[0]
		runs = runs[1:]
		i := slices.IndexFunc(runs, func(o run) bool { return o.x0 == top.x0 && o.x1 == top.x1 && o.y > top.y+1 })
		if i < 0 {
			frames = append(frames, frame{rect: image.Rect(top.x0, top.y, top.x1, bounds.Max.Y)})
			continue
		}
		frames = append(frames, frame{rect: image.Rect(top.x0, top.y, top.x1, runs[i].y+1), whole: true})
		runs = runs[i+1:]
	}
	return frames
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
