-- wrk script for scripts/load-test.sh: 80 % vector tiles (hexagons, states, counties at zooms
-- 3 to 8 over the contiguous US), 20 % aggregate layers (/api/v1/aggregates), gzip accepted.

local layers = { "hexagons", "states", "counties" }
local aggregates = {
  "/api/v1/aggregates?unit=state",
  "/api/v1/aggregates?unit=county",
  "/api/v1/aggregates?unit=h3&res=4",
  "/api/v1/aggregates?unit=h3&res=6&bbox=-81,25,-79,27",
  "/api/v1/aggregates?unit=state&gender=f&metrics=all",
  "/api/v1/aggregates?unit=county&format=csv",
}

local function tile(lon, lat, z)
  local n = 2 ^ z
  local x = math.floor((lon + 180) / 360 * n)
  local r = math.rad(lat)
  local y = math.floor((1 - math.log(math.tan(r) + 1 / math.cos(r)) / math.pi) / 2 * n)
  return x, y
end

local counter = 0
setup = function(thread)
  counter = counter + 1
  thread:set("id", counter)
end

init = function(args)
  math.randomseed(os.time() + (id or 0) * 7919)
end

request = function()
  local path
  if math.random() < 0.8 then
    local z = math.random(3, 8)
    local lon = -124 + math.random() * 57
    local lat = 25 + math.random() * 24
    local x, y = tile(lon, lat, z)
    local layer = layers[math.random(1, #layers)]
    if layer == "counties" and z < 3 then layer = "states" end
    path = string.format("/tiles/%s/%d/%d/%d.mvt", layer, z, x, y)
  else
    path = aggregates[math.random(1, #aggregates)]
  end
  return wrk.format("GET", path, { ["Accept-Encoding"] = "gzip" })
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write("------------------------------\n")
  io.write(string.format("requests %d in %.1f s (%.0f/s)\n", summary.requests, summary.duration / 1e6,
    summary.requests / (summary.duration / 1e6)))
  io.write(string.format("latency ms: p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f\n",
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency:percentile(99.9) / 1000, latency.max / 1000))
  io.write(string.format("errors: connect %d, read %d, write %d, timeout %d, non-2xx/3xx %d\n",
    e.connect, e.read, e.write, e.timeout, e.status))
end
