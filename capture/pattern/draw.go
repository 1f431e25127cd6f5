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
// even on pictures too small for the box to travel. It returns the area it
// drew.
func drawBox(img *image.YCbCr, t float64, n uint64) image.Rectangle {
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
		// A row is the same as the one a whole checker row above it.
		if yy >= 2*cell || (yy%cell != 0 && yy > 0) {
			src := yy - cell*2
			if yy < 2*cell {
				src = yy - yy%cell
			}
			copyRow(img, x, y+src, y+yy, side)
			continue
		}
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
	return box.Intersect(img.Rect)
}

// drawCounter writes the frame number in large digits at the bottom left,
// keeping the low digits when the picture is too narrow for all eight. It
// returns the area it drew.
func drawCounter(img *image.YCbCr, n uint64) image.Rectangle {
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
	return r.Intersect(img.Rect)
}

func drawGlyph(img *image.YCbCr, g [7]uint8, x0, y0, scale int) {
	for gy, bits := range g {
		top := y0 + gy*scale
		for gx := 0; gx < 5; gx++ {
			if bits&(0x10>>gx) == 0 {
				continue
			}
			fillY(img, image.Rect(0, 0, scale, 1).Add(image.Pt(x0+gx*scale, top)), white)
		}
		// The glyph row's other scan lines repeat its first.
		for yy := 1; yy < scale; yy++ {
			copyRow(img, x0, top, top+yy, 5*scale)
		}
	}
}

// copyRow copies n luma pixels from x on row from to the same place on row
// to, within the picture.
func copyRow(img *image.YCbCr, x, from, to, n int) {
	r := image.Rect(x, to, x+n, to+1).Intersect(img.Rect)
	if r.Empty() || from < img.Rect.Min.Y || from >= img.Rect.Max.Y {
		return
	}
	copy(img.Y[to*img.YStride+r.Min.X:to*img.YStride+r.Max.X], img.Y[from*img.YStride+r.Min.X:])
}

func fillY(img *image.YCbCr, r image.Rectangle, v uint8) {
	r = r.Intersect(img.Rect)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		fill(img.Y[y*img.YStride+r.Min.X:y*img.YStride+r.Max.X], v)
	}
}

// fillChroma makes the area (in luma coordinates) neutral grey in colour.
func fillChroma(img *image.YCbCr, r image.Rectangle) {
	r = r.Intersect(img.Rect)
	cx0, cx1 := r.Min.X/2, (r.Max.X+1)/2
	for cy := r.Min.Y / 2; cy < (r.Max.Y+1)/2; cy++ {
		i := cy * img.CStride
		fill(img.Cb[i+cx0:i+cx1], 128)
		fill(img.Cr[i+cx0:i+cx1], 128)
	}
}

// fill sets every byte of b to v by doubling copies, which run as memmove
// (a byte loop is several times slower; only zero gets a memclr).
func fill(b []byte, v uint8) {
	if len(b) == 0 {
		return
	}
	b[0] = v
	for n := 1; n < len(b); n *= 2 {
		copy(b[n:], b[:n])
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
