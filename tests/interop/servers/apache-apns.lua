-- APNs-like answers for Apache's mod_lua: the token's first byte picks the answer.
-- The body is not read: mod_lua's r:requestbody() reads only bodies with a Content-Length, which
-- APNs requests do not carry; Apache drops the unread body when the stream ends.
function handle(r)
  local token = string.match(r.uri, "^/3/device/(%x+)$")
  -- apns-id: mod_unique_id's per-request id (unique, not a UUID).
  r.headers_out["apns-id"] = r.subprocess_env["UNIQUE_ID"]
  local function answer(status, json)
    r.status = status
    r.content_type = "application/json"
    r:puts(json)
    return apache2.OK
  end
  if r.method ~= "POST" or not token then return answer(404, '{"reason":"BadPath"}') end
  local prefix = string.sub(token, 1, 2)
  if prefix == "40" then return answer(400, '{"reason":"BadDeviceToken"}') end
  if prefix == "41" then return answer(410, '{"reason":"Unregistered","timestamp":1767225600000}') end
  if prefix == "42" then
    r.headers_out["retry-after"] = "7"
    return answer(429, '{"reason":"TooManyRequests"}')
  end
  r.status = 200
  return apache2.OK
end
