-- wrk script for the pcap corpus (make_corpus.sh): three requests per write
-- (HTTP pipelining), and a stop after six answers so the capture stays small.
init = function(args)
   req = wrk.format(nil, "/1k") .. wrk.format(nil, "/missing") .. wrk.format(nil, "/1k")
end

request = function()
   return req
end

local answers = 0

response = function(status, headers, body)
   answers = answers + 1
   if answers == 6 then
      wrk.thread:stop()
   end
end
