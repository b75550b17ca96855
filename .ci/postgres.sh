# A throwaway PostgreSQL server for the tests. Source this file, then:
#   pg_test_start  installs PostgreSQL if its server binaries are missing, creates a cluster in a temporary
#                  directory and starts it on a free port of 127.0.0.1 (trust auth, user postgres, fsync off);
#                  exports POOLSCOPE_TEST_DATABASE_URL and POOLSCOPE_TEST_PG_BIN (the binaries' directory).
#   pg_test_stop   stops the server and removes the directory; idempotent, safe in an EXIT trap even when
#                  pg_test_start failed halfway.
# When run as root, initdb and pg_ctl run as the `postgres` OS user (PostgreSQL refuses root).

_pg_test_dir=""
_pg_test_bin=""

# The directory holding initdb, pg_ctl and postgres: next to pg_ctl on PATH, else the highest
# /usr/lib/postgresql/*/bin.
_pg_test_find_bin() {
    local dir
    if command -v pg_ctl >/dev/null 2>&1; then
        dir=$(dirname "$(readlink -f "$(command -v pg_ctl)")")
        if [ -x "$dir/initdb" ] && [ -x "$dir/postgres" ]; then echo "$dir"; return 0; fi
    fi
    for dir in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V -r); do
        if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && [ -x "$dir/postgres" ]; then echo "$dir"; return 0; fi
    done
    return 1
}

# Closes the calling subshell's descriptors above 2, so the server started from it holds none of our pipes
# (Linux; elsewhere a no-op).
_pg_test_close_fds() {
    local fd
    for fd in $(ls "/proc/$BASHPID/fd" 2>/dev/null); do
        if [ "$fd" -gt 2 ]; then eval "exec $fd>&-" 2>/dev/null || true; fi
    done
}

# Runs a command as the postgres user when we are root, from the server's directory (which it can read),
# with only stdin, stdout and stderr open.
_pg_test_as_owner() {
    if [ "$(id -u)" != 0 ]; then
        (cd "$_pg_test_dir" && _pg_test_close_fds && "$@")
    elif command -v runuser >/dev/null 2>&1; then
        (cd "$_pg_test_dir" && _pg_test_close_fds && runuser -u postgres -- "$@")
    else
        (cd "$_pg_test_dir" && _pg_test_close_fds && su postgres -s /bin/sh -c "$(printf "'%s' " "$@")")
    fi
}

_pg_test_free_port() {
    if command -v python3 >/dev/null 2>&1; then
        python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
    else
        echo $((20000 + RANDOM % 40000))  # pg_test_start retries when it is taken
    fi
}

pg_test_start() {
    local bin dir port attempt
    if ! bin=$(_pg_test_find_bin); then
        echo "== installing postgresql"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql || return 1
        bin=$(_pg_test_find_bin) || {
            echo "postgres.sh: PostgreSQL server binaries (initdb, pg_ctl) still not found" >&2
            return 1
        }
    fi
    if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
        echo "postgres.sh: running as root, but there is no postgres OS user to run PostgreSQL as" >&2
        return 1
    fi
    pg_test_stop  # a server from an earlier pg_test_start in this shell
    dir=$(mktemp -d /tmp/poolscope-ci-pg.XXXXXX) || return 1
    _pg_test_dir=$dir
    _pg_test_bin=$bin
    if [ "$(id -u)" = 0 ]; then chown postgres: "$dir" || return 1; fi
    echo "== initdb into $dir ($bin)"
    if ! _pg_test_as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust --encoding=UTF8 --locale=C \
        --no-sync >"$dir/initdb.log" 2>&1; then
        echo "postgres.sh: initdb failed:" >&2
        tail -n 20 "$dir/initdb.log" >&2
        return 1
    fi
    cat >>"$dir/data/postgresql.conf" <<EOF || return 1

# .ci/postgres.sh: throwaway test server, speed over durability
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 300
EOF
    for attempt in 1 2 3 4 5; do
        port=$(_pg_test_free_port)
        # The server's output goes to server.log (-l), so it never holds our stdout/stderr open.
        if _pg_test_as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -o "-p $port" -w -t 60 start \
            </dev/null >"$dir/pg_ctl.log" 2>&1; then
            export POOLSCOPE_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
            export POOLSCOPE_TEST_PG_BIN="$bin"
            echo "== PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port"
            return 0
        fi
        grep -q 'already in use' "$dir/server.log" 2>/dev/null || break
        echo "== port $port taken, trying another"
    done
    echo "postgres.sh: PostgreSQL did not start:" >&2
    tail -n 20 "$dir/pg_ctl.log" "$dir/server.log" >&2 2>/dev/null
    return 1
}

pg_test_stop() {
    local dir=${_pg_test_dir:-} bin=${_pg_test_bin:-} pid
    [ -n "$dir" ] || return 0
    if [ -f "$dir/data/postmaster.pid" ] && [ -n "$bin" ]; then
        echo "== stopping PostgreSQL ($dir)"
        if ! _pg_test_as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null 2>&1 &&
            ! _pg_test_as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w -t 15 stop >/dev/null 2>&1; then
            pid=$(head -n 1 "$dir/data/postmaster.pid" 2>/dev/null) || pid=""
            if [ -n "$pid" ]; then kill -9 "$pid" 2>/dev/null || true; fi
        fi
    fi
    rm -rf "$dir" || true
    _pg_test_dir=""
    unset POOLSCOPE_TEST_DATABASE_URL POOLSCOPE_TEST_PG_BIN
    return 0
}
