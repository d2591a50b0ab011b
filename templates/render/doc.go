// Package render turns Foyer's page templates into HTML. New parses the
// fs.FS it is given (cmd/foyer passes templates.FS; tests may pass an
// fstest.MapFS) once, at start-up, and fails if a page is missing, does not
// parse, or does not execute with its data type; after that, rendering a
// page can fail only on a bug in a template or on the writer.
//
// Each page has a typed method and a data struct (ConsentPage, ErrorPage,
// …) that embeds Page, whose fields the shared layout uses: the CSRF token
// becomes the hidden csrf_token field of every form, and the CSP nonce goes
// on the page's only <style> element, so the browser group can send
// "style-src 'nonce-…'" and no script-src at all. A method renders into a
// buffer and writes only a complete page, so a failure never leaves half a
// page on the wire; the caller sets the status and
// "Content-Type: text/html; charset=utf-8" before calling it.
//
// Every value reaches the page through html/template's contextual escaping;
// no field is trusted HTML. The package imports no other Foyer package.
package render
