package render

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
)

// layoutFile is the shell every page is parsed with; its top level is the
// document, and it calls the "content" template each page file defines.
const layoutFile = "layout.html"

// Renderer holds one parsed template set per page. It is safe for
// concurrent use.
type Renderer struct {
	consent, selectOrg, selectAccount, errorPage, logout, loggedOut page
	device, deviceConfirm, deviceDone                               page
}

// page is one page file parsed together with the layout.
type page struct {
	file string
	tmpl *template.Template
}

// New parses the layout and every page from fsys. It reports every missing
// or broken page at once, one error each, joined with errors.Join.
func New(fsys fs.FS) (*Renderer, error) {
	r := new(Renderer)
	pages := []struct {
		dst  *page
		file string
		// zero is the page's data type; New executes each page with it once,
		// so escaping errors and unknown fields show up at start-up.
		zero any
	}{
		{&r.consent, "consent.html", ConsentPage{}},
		{&r.selectOrg, "select_org.html", SelectOrgPage{}},
		{&r.selectAccount, "select_account.html", SelectAccountPage{}},
		{&r.errorPage, "error.html", ErrorPage{}},
		{&r.logout, "logout.html", LogoutPage{}},
		{&r.loggedOut, "logged_out.html", LoggedOutPage{}},
		{&r.device, "device.html", DevicePage{}},
		{&r.deviceConfirm, "device_confirm.html", DeviceConfirmPage{}},
		{&r.deviceDone, "device_done.html", DeviceDonePage{}},
	}
	if _, err := fs.Stat(fsys, layoutFile); err != nil {
		return nil, fmt.Errorf("render: layout: %w", err)
	}
	layout, err := template.ParseFS(fsys, layoutFile)
	if err != nil {
		return nil, fmt.Errorf("render: layout: %w", err)
	}
	var errs []error
	for _, p := range pages {
		t, err := parse(layout, fsys, p.file, p.zero)
		if err != nil {
			errs = append(errs, fmt.Errorf("render: page %s: %w", p.file, err))
			continue
		}
		*p.dst = page{file: p.file, tmpl: t}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return r, nil
}

// parse adds one page file, which must define "content", to a copy of the
// layout, and executes the result once with the page's zero data.
func parse(layout *template.Template, fsys fs.FS, file string, zero any) (*template.Template, error) {
	if _, err := fs.Stat(fsys, file); err != nil {
		return nil, err
	}
	t, err := layout.Clone()
	if err != nil {
		return nil, err
	}
	if _, err := t.ParseFS(fsys, file); err != nil {
		return nil, err
	}
	if c := t.Lookup("content"); c == nil || c.Tree == nil {
		return nil, errors.New(`does not define "content"`)
	}
	if err := t.ExecuteTemplate(io.Discard, layoutFile, zero); err != nil {
		return nil, err
	}
	return t, nil
}

// execute renders p with data into a buffer and writes the buffer to w
// only when the whole page rendered.
func (p page) execute(w io.Writer, data any) error {
	var buf bytes.Buffer
	if err := p.tmpl.ExecuteTemplate(&buf, layoutFile, data); err != nil {
		return fmt.Errorf("render %s: %w", p.file, err)
	}
	if _, err := buf.WriteTo(w); err != nil {
		return fmt.Errorf("render %s: %w", p.file, err)
	}
	return nil
}
