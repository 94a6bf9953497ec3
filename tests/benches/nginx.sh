# Sourced by the proxy benchmarks: nginx as a keep-alive reverse proxy to the
# mock upstream, configured the same way wherever it is measured.

# nginx_conf DIR UPSTREAM_PORT LISTEN_PORT PROCESS_LINES: writes DIR/nginx.conf.
# PROCESS_LINES says how nginx runs (workers, master, pid, error log).
nginx_conf() {
  mkdir -p "$1/logs"
  cat >"$1/nginx.conf" <<CONF
$4
events { worker_connections 4096; }
http {
  access_log off;
  # nginx closes a keep-alive connection after 1000 requests by default; the load
  # generator would count each of those as an error.
  keepalive_requests 100000000;
  upstream mock { server 127.0.0.1:$2; keepalive 256; keepalive_requests 100000000; }
  server {
    listen 127.0.0.1:$3;
    location / {
      proxy_pass http://mock;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }
  }
}
CONF
}
