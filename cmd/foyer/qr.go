package main

import (
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/term"
	"rsc.io/qr"
)

// qrQuietZone is the light margin around a QR code, in modules; the
// standard asks for 4, and phone cameras need it on a dark terminal.
const qrQuietZone = 4

// terminalQR renders text as a QR code for a terminal: two rows of modules
// per line with Unicode half blocks, black on white set explicitly with
// ANSI colours so it scans on dark and light terminals alike. It returns ""
// when the code is wider than columns.
func terminalQR(text string, columns int) string {
	code, err := qr.Encode(text, qr.M)
	if err != nil {
		return ""
	}
	width := code.Size + 2*qrQuietZone
	if width > columns {
		return ""
	}
	dark := func(x, y int) bool { return code.Black(x-qrQuietZone, y-qrQuietZone) } // false outside the code
	var b strings.Builder
	for y := 0; y < width; y += 2 {
		b.WriteString("\x1b[30;107m") // black on bright white
		for x := range width {
			top, bottom := dark(x, y), y+1 < width && dark(x, y+1)
			switch {
			case top && bottom:
				b.WriteString("█")
			case top:
				b.WriteString("▀")
			case bottom:
				b.WriteString("▄")
			default:
				b.WriteString(" ")
			}
		}
		b.WriteString("\x1b[0m\n")
	}
	return b.String()
}

// terminalColumns returns the width of the terminal w writes to, or 0 when
// w is not a terminal (a pipe, a file, a test): then no QR code is drawn.
// $COLUMNS, when set, wins over what the terminal reports.
func (a *app) terminalColumns(w io.Writer) int {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return 0
	}
	if n, err := strconv.Atoi(a.getenv("COLUMNS")); err == nil && n > 0 {
		return n
	}
	if n, _, err := term.GetSize(int(f.Fd())); err == nil {
		return n
	}
	return 0
}

// getenv reads a variable of the environment the command was run with.
func (a *app) getenv(name string) string {
	for _, kv := range a.environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name {
			return v
		}
	}
	return ""
}
