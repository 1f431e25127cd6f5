package pattern

import (
	"image"
	"math"
)

const (
	black = 16  // video-range black keeps the box edges visible on every player
	white = 235 // video-range white
)

// boxPeriod is how long the box takes to cross the picture and back.
const boxPeriod = 4.0 // seconds

// drawBox draws a checkered box whose position is a triangle wave of time, so
// motion speed is the same at every frame rate and a stall shows as a jump.
// The checkers also scroll by a pixel per frame, so consecutive frames differ
// even on pictures too small for the box to travel.
func drawBox(img *image.YCbCr, t float64, n uint64) {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	side := max(8, h/5) &^ 7
	if side > w {
		side = w &^ 7
	}
	phase := t/boxPeriod - math.Floor(t/boxPeriod)
	tri := 1 - math.Abs(2*phase-1)
	x := int(tri*float64(w-side)) &^ 1
	y := max(0, (h*2/3-side)/2) &^ 1
	cell := max(2, side/4)
	off := int(n % uint64(2*cell))
	box := image.Rect(x, y, x+side, y+side)
	for yy := 0; yy < side; yy++ {
		// Runs of one cell's width, the first shortened by the scroll.
		for xx := 0; xx < side; {
			k := (xx + off) / cell
			end := min(side, (k+1)*cell-off)
			v := uint8(white)
			if (k+yy/cell)%2 == 1 {
				v = black
			}
			fillY(img, image.Rect(x+xx, y+yy, x+end, y+yy+1), v)
			xx = end
		}
	}
	fillChroma(img, box)
}

// drawCounter writes the frame number in large digits at the bottom left,
// keeping the low digits when the picture is too narrow for all eight.
func drawCounter(img *image.YCbCr, n uint64) {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	scale := max(1, h/90)
	digits := min(8, max(1, (w-3*scale)/(6*scale)))
	r := image.Rect(0, 0, (digits*6+1)*scale, 9*scale).Add(image.Pt(2*scale, h-11*scale))
	fillY(img, r, black)
	fillChroma(img, r)
	for i := digits - 1; i >= 0; i-- {
		d := n % 10
		n /= 10
		drawGlyph(img, font[d], r.Min.X+(1+6*i)*scale, r.Min.Y+scale, scale)
	}
}

func drawGlyph(img *image.YCbCr, g [7]uint8, x0, y0, scale int) {
	for gy, bits := range g {
		for gx := 0; gx < 5; gx++ {
			if bits&(0x10>>gx) == 0 {
				continue
			}
			fillY(img, image.Rect(0, 0, scale, scale).Add(image.Pt(x0+gx*scale, y0+gy*scale)), white)
		}
	}
}

func fillY(img *image.YCbCr, r image.Rectangle, v uint8) {
	r = r.Intersect(img.Rect)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		row := img.Y[y*img.YStride+r.Min.X : y*img.YStride+r.Max.X]
		for i := range row {
			row[i] = v
		}
	}
}

// fillChroma makes the area (in luma coordinates) neutral grey in colour.
func fillChroma(img *image.YCbCr, r image.Rectangle) {
	r = r.Intersect(img.Rect)
	for cy := r.Min.Y / 2; cy < (r.Max.Y+1)/2; cy++ {
		for cx := r.Min.X / 2; cx < (r.Max.X+1)/2; cx++ {
			img.Cb[cy*img.CStride+cx] = 128
			img.Cr[cy*img.CStride+cx] = 128
		}
	}
}

// font is a 5x7 bitmap of the decimal digits, one byte per row, MSB left.
var font = [10][7]uint8{
	{0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E},
	{0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E},
	{0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F},
	{0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E},
	{0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02},
	{0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E},
	{0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E},
	{0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08},
	{0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E},
	{0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C},
}
