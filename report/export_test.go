package report

import (
	"fmt"
	"image/color"
)

// Colours of the plots as SVG writes them ("#RRGGBB"), for tests that count markers.
var (
	ColTrial = hex(colTrial)
	ColFront = hex(colFront)
	ColPick  = hex(colPick)
	ColBest  = hex(colBest)
)

// RGB returns the red, green and blue bytes of a "#RRGGBB" colour.
func RGB(hexColour string) (r, g, b uint8) {
	fmt.Sscanf(hexColour, "#%02X%02X%02X", &r, &g, &b)
	return r, g, b
}

func hex(c color.NRGBA) string { return fmt.Sprintf("#%02X%02X%02X", c.R, c.G, c.B) }

// Formatting helpers, for table tests.
var (
	FormatMs   = formatMs
	FormatKnob = formatKnob
	FormatExp  = formatExp
)

// CompareColour is the colour of compared front i as SVG writes it.
func CompareColour(i int) string {
	return hex(compareStyles.colours[i%len(compareStyles.colours)])
}
