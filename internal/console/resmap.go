package console

import (
	"fmt"
	"slices"

	"github.com/domicile/domicile/client"
)

// svgMap is the residency diagram, laid out here and drawn by the map
// template as inline SVG: jurisdictions on the left, each joined to the
// region that holds its subjects' data, each region joined to its suite.
type svgMap struct {
	Width, Height int
	Nodes         []svgNode
	Edges         []svgEdge
	Headings      []svgNode
}

// svgNode is a labelled box.
type svgNode struct {
	X, Y, W, H int
	Label, Sub string
	Class      string
}

// TX and TY place the node's label.
func (n svgNode) TX() int { return n.X + 10 }

// TY is the baseline of the label.
func (n svgNode) TY() int {
	if n.Sub != "" {
		return n.Y + n.H/2 - 2
	}
	return n.Y + n.H/2 + 5
}

// SY is the baseline of the second line.
func (n svgNode) SY() int { return n.Y + n.H/2 + 14 }

// svgEdge is a curve between two boxes.
type svgEdge struct {
	D     string
	Class string
}

const (
	mapRow     = 34 // vertical pitch of jurisdiction boxes
	mapTop     = 40 // below the headings
	jurX, jurW = 20, 150
	regX, regW = 300, 190
	suiX, suiW = 620, 220
	boxH       = 26
	bigH       = 46
)

// jurisdictionLabel is how a policy jurisdiction reads on the map.
func jurisdictionLabel(j string) string {
	if j == "*" {
		return "* every other"
	}
	return j
}

func curve(x1, y1, x2, y2 int) string {
	mid := (x1 + x2) / 2
	return fmt.Sprintf("M%d %d C%d %d, %d %d, %d %d", x1, y1, mid, y1, mid, y2, x2, y2)
}

// drawMap lays the regions' jurisdictions, regions and suites out in three
// columns. Colours follow the region (classes r0 to r5, then again).
func drawMap(regions []client.Region) *svgMap {
	m := &svgMap{Width: suiX + suiW + 20}
	m.Headings = []svgNode{{X: jurX, Y: 20, Label: "Jurisdiction of the subject"}, {X: regX, Y: 20, Label: "Region (where data lives)"},
		{X: suiX, Y: 20, Label: "Suite (cryptography)"}}
	var suites []string
	for _, reg := range regions {
		if !slices.Contains(suites, reg.Suite) {
			suites = append(suites, reg.Suite)
		}
	}
	y := mapTop
	regY := map[string]int{}
	for i, reg := range regions {
		class := fmt.Sprintf("r%d", i%6)
		js := reg.Jurisdictions
		if len(js) == 0 {
			js = []string{"(none)"}
		}
		// A region's block is as tall as its jurisdictions, or its own
		// box; both are centred in it.
		block := max(len(js)*mapRow, bigH+mapRow-boxH)
		center := y + block/2
		jy := center - (len(js)*mapRow-(mapRow-boxH))/2
		ry := center - bigH/2
		regY[reg.Name] = center
		m.Nodes = append(m.Nodes, svgNode{X: regX, Y: ry, W: regW, H: bigH, Label: reg.Name, Sub: reg.Residency + " residency", Class: "reg " + class})
		for _, j := range js {
			m.Nodes = append(m.Nodes, svgNode{X: jurX, Y: jy, W: jurW, H: boxH, Label: jurisdictionLabel(j), Class: "jur " + class})
			m.Edges = append(m.Edges, svgEdge{D: curve(jurX+jurW, jy+boxH/2, regX, center), Class: class})
			jy += mapRow
		}
		y += block + 10 // a gap between regions
	}
	height := y
	// Suites spread over the height, each joined to its regions.
	for i, s := range suites {
		sy := mapTop + (height-mapTop)*(2*i+1)/(2*len(suites)) - bigH/2
		algs := ""
		for _, reg := range regions {
			if reg.Suite == s {
				algs = reg.Algorithms["aead"]
				if sig := reg.Algorithms["signature"]; sig != "" {
					algs += " · " + sig
				}
				break
			}
		}
		m.Nodes = append(m.Nodes, svgNode{X: suiX, Y: sy, W: suiW, H: bigH, Label: "suite " + s, Sub: algs, Class: "suite"})
		for i, reg := range regions {
			if reg.Suite == s {
				m.Edges = append(m.Edges, svgEdge{D: curve(regX+regW, regY[reg.Name], suiX, sy+bigH/2), Class: fmt.Sprintf("r%d", i%6)})
			}
		}
	}
	m.Height = height + 10
	return m
}
