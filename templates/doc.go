// Package templates holds Foyer's server-rendered HTML pages, embedded in
// the binary as FS. It has no logic: templates/render parses FS once at
// start-up and owns the typed data each page expects.
//
// Every page is an html/template file that defines "content" and nothing
// else; layout.html is the shared shell (document head, the one inline
// <style> carrying the CSP nonce, the <main> card) and defines "csrf", the
// hidden anti-CSRF field that every form includes. The pages use no
// JavaScript and load nothing from elsewhere, so a strict Content-Security-
// Policy (style-src 'nonce-…'; default-src 'none') fits them.
//
// Emails come in pairs, email_<name>.html (html/template) and
// email_<name>.txt (text/template), each defining "content" for the shells
// email_layout.html and email_layout.txt. The HTML part uses inline styles
// only, no scripts and no images; every link in it is in the text part too.
//
// Form field names the handlers read:
//
//	csrf_token       every form (from layout.html's "csrf")
//	challenge        every form but magic_link.html's: the opaque login,
//	                 consent or logout challenge
//	email            login_identifier.html; login_password.html (both forms)
//	password         login_password.html
//	token            magic_link.html: the emailed link's token
//	organization     select_org.html: the chosen organization's ID
//	decision         consent.html: "allow" or "deny";
//	                 select_account.html: "continue" or "another"
//
// Forms post to the page's own URL unless the data sets Action; the sign-in
// pages post to fixed /login… routes.
package templates
