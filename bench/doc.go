// Command bench is Foyer's load benchmark. It starts nothing itself: it
// hammers a running Foyer with N concurrent clients for a fixed time and
// prints the scenario, concurrency, duration, requests, req/s, p50, p90,
// p99, max and the errors by HTTP status or transport failure. It exits 1
// when more than 1% of the requests failed (-max-error-rate), so a broken
// server cannot pass for a fast one.
//
//	go run ./bench -h
//	go run ./bench -url http://127.0.0.1:8181 -scenario S [-c 32] [-d 20s] [-warmup 2s] \
//	    [-client-id ID -client-secret SECRET] [-scope S] [-pid PID] [-json]
//
// Scenarios:
//
//	client_credentials  POST /oauth2/token, grant_type=client_credentials, client_secret_basic
//	introspect          gets one access token, then POST /oauth2/introspect with it, over and
//	                    over (a JWT access token unless the client is opaque); wants "active":true
//	discovery           GET /.well-known/openid-configuration
//	jwks                GET /.well-known/jwks.json
//
// Each of the -c workers sends one request at a time over a kept-alive
// connection of one shared http.Client (MaxIdleConnsPerHost = MaxConnsPerHost
// = c). Requests started during the -warmup are not counted; the rate is the
// requests started in the -d window divided by -d. Every worker records its
// latencies in its own preallocated slice, so nothing is locked per request.
// With -pid (a Foyer on the same machine) it also reads the server's VmRSS
// from /proc before the load, every 250 ms during it and at its end.
//
// # Measuring
//
// The targets, on a 2-core machine with Foyer on the local Postgres
// and the load generator on the same machine, at 32 concurrent clients:
// client_credentials at least 4,000 tokens/s with p99 at most 20 ms for
// ES256 or EdDSA access tokens, at least 1,200 tokens/s for RS256 (2048-bit);
// discovery and JWKS at least 25,000 req/s; introspection of a JWT access
// token at least 6,000 req/s. The load generator shares the two cores with
// Foyer and Postgres, so it is part of what is measured.
//
// Run the server at log level warn: at info every request writes an access
// log line, which costs measurable time. Use a schema of its own, and a new
// one per algorithm, since FOYER_KEYS_ALGORITHM only applies to new keys:
//
//	go build -o /tmp/foyer ./cmd/foyer
//	go build -o /tmp/foyer-bench ./bench
//	psql -h 127.0.0.1 -d test -c 'DROP SCHEMA IF EXISTS foyer_bench CASCADE' -c 'CREATE SCHEMA foyer_bench'
//	export FOYER_DATABASE_URL='postgres://127.0.0.1:5432/test?sslmode=disable&search_path=foyer_bench'
//	export FOYER_ENCRYPTION_KEY=$(openssl rand -base64 32)   # the CLI needs the same key
//	export FOYER_HTTP_ADDR=127.0.0.1:8181 FOYER_ISSUER=http://127.0.0.1:8181
//	export FOYER_LOG_LEVEL=warn FOYER_KEYS_ALGORITHM=ES256      # or EdDSA, RS256
//	/tmp/foyer serve & PID=$!
//	sleep 3; grep VmRSS /proc/$PID/status                     # idle RSS
//	/tmp/foyer clients create --name bench --grant-type client_credentials --scope reports:read --json
//	# take client_id and client_secret from its output:
//	ID=cli_...; SECRET=...
//	/tmp/foyer-bench -url http://127.0.0.1:8181 -scenario client_credentials -c 32 -d 20s \
//	    -client-id $ID -client-secret $SECRET -scope reports:read -pid $PID
//	/tmp/foyer-bench -url http://127.0.0.1:8181 -scenario introspect -c 32 -d 20s \
//	    -client-id $ID -client-secret $SECRET -pid $PID
//	/tmp/foyer-bench -url http://127.0.0.1:8181 -scenario discovery -c 32 -d 20s -pid $PID
//	/tmp/foyer-bench -url http://127.0.0.1:8181 -scenario jwks -c 32 -d 20s -pid $PID
//	kill $PID
//	psql -h 127.0.0.1 -d test -c 'DROP SCHEMA foyer_bench CASCADE'
//
// Repeat with FOYER_KEYS_ALGORITHM=EdDSA and RS256, each on a fresh schema.
// On a shared machine, check that nothing else is busy (vmstat 1) during a
// run: two cores leave no headroom, and a concurrent build halves the result.
//
// # Where the time goes
//
// The server has no pprof endpoint. For a CPU profile, build a copy with one:
//
//	rm -rf /tmp/foyer-prof && mkdir /tmp/foyer-prof
//	git archive HEAD | tar -C /tmp/foyer-prof -xf -
//	# in /tmp/foyer-prof/cmd/foyer/main.go (the copy only), import
//	# _ "net/http/pprof" and "net/http", and add to main():
//	#     go http.ListenAndServe("127.0.0.1:6060", nil)
//	(cd /tmp/foyer-prof && go build -o /tmp/foyer-prof/foyer ./cmd/foyer)
//	/tmp/foyer-prof/foyer serve &       # same environment as above
//	/tmp/foyer-bench -scenario client_credentials -d 30s -client-id $ID -client-secret $SECRET &
//	sleep 5; curl -so /tmp/cc.pprof 'http://127.0.0.1:6060/debug/pprof/profile?seconds=15'
//	go tool pprof -top -cum /tmp/foyer-prof/foyer /tmp/cc.pprof | head -40
//
// perf (perf record -g -p $PID) shows the same Go frames plus the kernel's
// share, and perf record -a shows Postgres and the load generator too.
package main
