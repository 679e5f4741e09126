package loadtest

import (
	"fmt"
	"html"
	"math"
	"strings"
)

// series is one line of a chart.
type series struct {
	name  string
	color string
	ys    []float64
	dash  bool
}

// mark is a labelled reference line: horizontal at y, or vertical at x.
type mark struct {
	label    string
	at       float64
	vertical bool
	color    string
}

// chart geometry, in SVG units.
const (
	chartW, chartH         = 640, 300
	padL, padR, padT, padB = 60, 20, 30, 45
	plotW, plotH           = chartW - padL - padR, chartH - padT - padB
	gridLines              = 5
)

// lineChart draws series over xs as an inline SVG, with the marks, axis
// labels and a legend. It needs no script and no external file.
func lineChart(title, xLabel, yLabel string, xs []float64, ss []series, marks []mark) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="%s" font-family="sans-serif" font-size="11">`,
		chartW, chartH, chartW, chartH, html.EscapeString(title))
	fmt.Fprintf(&b, `<text x="%d" y="16" font-size="13" font-weight="bold">%s</text>`, padL, html.EscapeString(title))
	if len(xs) == 0 {
		b.WriteString(`<text x="320" y="150" text-anchor="middle">no steps ran</text></svg>`)
		return b.String()
	}
	xmin, xmax := 0.0, xs[len(xs)-1]
	ymax := 0.0
	for _, s := range ss {
		for _, y := range s.ys {
			ymax = max(ymax, y)
		}
	}
	for _, m := range marks {
		if m.vertical {
			xmax = max(xmax, m.at)
		} else {
			ymax = max(ymax, m.at)
		}
	}
	ymax = niceCeil(ymax * 1.1)
	if xmax <= xmin {
		xmax = xmin + 1
	}
	px := func(x float64) float64 { return padL + (x-xmin)/(xmax-xmin)*plotW }
	py := func(y float64) float64 { return padT + plotH - y/ymax*plotH }
	// Grid and axes.
	for i := 0; i <= gridLines; i++ {
		y := ymax * float64(i) / gridLines
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#e3e3e3"/>`, padL, py(y), padL+plotW, py(y))
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`, padL-6, py(y)+4, num(y))
	}
	for _, x := range xs {
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`, px(x), padT+plotH+15, num(x))
	}
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#555"/>`, padL, padT+plotH, padL+plotW, padT+plotH)
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#555"/>`, padL, padT, padL, padT+plotH)
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">%s</text>`, padL+plotW/2, chartH-6, html.EscapeString(xLabel))
	fmt.Fprintf(&b, `<text transform="translate(14 %d) rotate(-90)" text-anchor="middle">%s</text>`, padT+plotH/2, html.EscapeString(yLabel))
	// Marks.
	for _, m := range marks {
		if m.vertical {
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s" stroke-dasharray="6 4"/>`, px(m.at), padT, px(m.at), padT+plotH, m.color)
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" fill="%s" text-anchor="end">%s</text>`, px(m.at)-4, padT+12, m.color, html.EscapeString(m.label))
		} else {
			fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="%s" stroke-dasharray="6 4"/>`, padL, py(m.at), padL+plotW, py(m.at), m.color)
			fmt.Fprintf(&b, `<text x="%d" y="%.1f" fill="%s" text-anchor="end">%s</text>`, padL+plotW-4, py(m.at)-4, m.color, html.EscapeString(m.label))
		}
	}
	// Series and legend.
	for i, s := range ss {
		var pts []string
		for j, y := range s.ys {
			if j < len(xs) {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(xs[j]), py(y)))
			}
		}
		dash := ""
		if s.dash {
			dash = ` stroke-dasharray="3 3"`
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2"%s points="%s"/>`, s.color, dash, strings.Join(pts, " "))
		for _, p := range pts {
			xy := strings.Split(p, ",")
			fmt.Fprintf(&b, `<circle cx="%s" cy="%s" r="2.5" fill="%s"/>`, xy[0], xy[1], s.color)
		}
		lx := padL + 10 + i*110
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="12" height="3" fill="%s"/><text x="%d" y="%d">%s</text>`,
			lx, padT+6, s.color, lx+16, padT+10, html.EscapeString(s.name))
	}
	b.WriteString(`</svg>`)
	return b.String()
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

// num prints a number briefly: no decimals from 10 up.
func num(v float64) string {
	if math.Abs(v) >= 10 || v == math.Trunc(v) {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.2g", v)
}
