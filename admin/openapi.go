package admin

import (
	"encoding/json"
	"net/http"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The OpenAPI 3.1 document is built once, at New, from the route table the
// router mounts and from the Go types the handlers encode and decode, so a
// route or a field cannot change without the document changing with it.
// An OpenAPI document is open-ended JSON, hence maps rather than structs.

type object = map[string]any

var ginParam = regexp.MustCompile(`:([a-z_]+)`)

// openAPIPath turns gin's /users/:id into OpenAPI's /users/{id}.
func openAPIPath(p string) string { return ginParam.ReplaceAllString(p, "{$1}") }

// OperationPaths lists "METHOD /admin/v1/path" for every operation the
// document describes, in gin's path syntax, for the test that compares
// them with the router.
func OperationPaths() []string {
	out := []string{"GET " + Prefix + "/openapi.json"}
	for _, r := range routes() {
		out = append(out, r.Method+" "+Prefix+r.Path)
	}
	return out
}

func openAPIDocument(rs []route) ([]byte, error) {
	g := schemas{}
	paths := map[string]object{
		"/openapi.json": {"get": object{
			"operationId": "getOpenAPI", "summary": "This document", "security": []any{},
			"responses": object{"200": object{"description": "The OpenAPI 3.1 document.",
				"content": object{"application/json": object{"schema": object{"type": "object"}}}}},
		}},
	}
	for _, r := range rs {
		path := openAPIPath(r.Path)
		if paths[path] == nil {
			paths[path] = object{}
		}
		var params []any
		for _, m := range ginParam.FindAllStringSubmatch(r.Path, -1) {
			params = append(params, object{"name": m[1], "in": "path", "required": true, "schema": object{"type": "string"}})
		}
		for _, q := range r.Query {
			params = append(params, object{"name": q.Name, "in": "query", "description": q.Description, "schema": object{"type": q.Type}})
		}
		success := object{"description": http.StatusText(r.Status)}
		if r.Response != nil {
			success["content"] = object{"application/json": object{"schema": g.of(reflect.TypeOf(r.Response))}}
		}
		op := object{
			"operationId": r.OperationID,
			"summary":     r.Summary,
			"responses": object{
				strconv.Itoa(r.Status): success,
				"default":              object{"$ref": "#/components/responses/Problem"},
			},
		}
		if params != nil {
			op["parameters"] = params
		}
		if r.Request != nil {
			op["requestBody"] = object{"required": true,
				"content": object{"application/json": object{"schema": g.of(reflect.TypeOf(r.Request))}}}
		}
		paths[path][strings.ToLower(r.Method)] = op
	}
	problem := g.of(reflect.TypeOf(Problem{}))
	doc := object{
		"openapi": "3.1.0",
		"info": object{"title": "Foyer admin API", "version": "1",
			"description": "Users, organizations, memberships, roles, invitations, SAML connections, OAuth clients, browser sessions, signing keys, webhook endpoints and the audit log. Errors are RFC 9457 problem details."},
		"servers":  []any{object{"url": Prefix}},
		"security": []any{object{"bearer": []any{Scope}}},
		"paths":    paths,
		"components": object{
			"schemas": g,
			"securitySchemes": object{"bearer": object{"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
				"description": "A Foyer access token with the scope " + Scope + "."}},
			"responses": object{"Problem": object{"description": "An RFC 9457 problem; errors names bad fields.",
				"content": object{"application/problem+json": object{"schema": problem}}}},
		},
	}
	return json.MarshalIndent(doc, "", "  ")
}

// schemas collects the named schemas the document refers to.
type schemas map[string]any

var (
	timeType = reflect.TypeOf(time.Time{})
	rawType  = reflect.TypeOf(json.RawMessage{})
)

// of returns the JSON Schema of t, registering named structs once and
// referring to them.
func (s schemas) of(t reflect.Type) object {
	if t == rawType {
		return object{"type": "object"} // a JSON document (a JWK Set)
	}
	switch t.Kind() {
	case reflect.Pointer:
		return s.of(t.Elem())
	case reflect.String:
		return object{"type": "string"}
	case reflect.Bool:
		return object{"type": "boolean"}
	case reflect.Int, reflect.Int32, reflect.Int64:
		return object{"type": "integer"}
	case reflect.Slice:
		return object{"type": "array", "items": s.of(t.Elem())}
	case reflect.Struct:
		if t == timeType {
			return object{"type": "string", "format": "date-time"}
		}
		name := schemaName(t)
		if _, done := s[name]; !done {
			s[name] = nil // registered first: a type may refer to itself
			s[name] = s.structSchema(t)
		}
		return object{"$ref": "#/components/schemas/" + name}
	}
	panic("admin: no schema for " + t.String()) // a new field type: add it above
}

func (s schemas) structSchema(t reflect.Type) object {
	props, required := object{}, []any{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		props[name] = s.of(f.Type)
		if !strings.Contains(opts, "omitempty") {
			required = append(required, name)
		}
	}
	// The API refuses unknown fields, so the schema says so.
	return object{"type": "object", "properties": props, "required": required, "additionalProperties": false}
}

// schemaName is a type's exported name; List[User] becomes UserList.
func schemaName(t reflect.Type) string {
	name := t.Name()
	if inner, ok := strings.CutPrefix(name, "List["); ok {
		inner = strings.TrimSuffix(inner, "]")
		name = inner[strings.LastIndex(inner, ".")+1:] + "List"
	}
	return strings.ToUpper(name[:1]) + name[1:]
}
