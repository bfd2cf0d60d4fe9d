# APNs-like answers for h2o's mruby handler: the token's first byte picks the answer.
Proc.new do |env|
  body = env["rack.input"] ? env["rack.input"].read : ""
  path = env["PATH_INFO"]
  token = path.start_with?("/3/device/") ? path[10..-1] : ""
  # apns-id: a random version 4 UUID.
  hex = (0...32).map { rand(16).to_s(16) }.join
  id = "#{hex[0, 8]}-#{hex[8, 4]}-4#{hex[13, 3]}-8#{hex[17, 3]}-#{hex[20, 12]}"
  json = { "content-type" => "application/json", "apns-id" => id }
  if env["REQUEST_METHOD"] != "POST" || token.empty?
    [404, json, ['{"reason":"BadPath"}']]
  elsif body.bytesize != {{BODY_LEN}}
    [400, json, ['{"reason":"BodyLength"}']]
  elsif token.start_with?("40")
    [400, json, ['{"reason":"BadDeviceToken"}']]
  elsif token.start_with?("41")
    [410, json, ['{"reason":"Unregistered","timestamp":1767225600000}']]
  elsif token.start_with?("42")
    [429, json.merge("retry-after" => "7"), ['{"reason":"TooManyRequests"}']]
  else
    [200, { "apns-id" => id }, []]
  end
end
