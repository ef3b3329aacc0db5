-- wrk script for scripts/bench-load.sh: POSTs one custom-handler invocation (the body the Functions host
-- sends for an Event Grid trigger) with the host's headers.
--
--   WRK_BODY=/path/to/invocation.json wrk -s scripts/wrk-invocation.lua http://127.0.0.1:PORT/MlWorkspaceEvents
--
-- The request stays static (no request() function), so wrk builds it once per thread and its own cost
-- stays as small as possible on a machine it shares with the server under test. Each thread sends its
-- own invocation id.

local path = os.getenv("WRK_BODY")
if path == nil or path == "" then
   error("set WRK_BODY to the invocation body file")
end
local file = assert(io.open(path, "rb"))
local body = file:read("*a")
file:close()

wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json; charset=utf-8"

local threads = 0

function setup(thread)
   threads = threads + 1
   thread:set("index", threads)
end

function init(args)
   wrk.headers["X-Azure-Functions-InvocationId"] =
      string.format("0f8fad5b-d9cb-469f-a165-%012d", index or 0)
end
