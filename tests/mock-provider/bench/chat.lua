-- wrk script: a non-streaming OpenAI chat completion against the mock provider.
--   wrk -t2 -c32 -d15s -s tests/mock-provider/bench/chat.lua http://127.0.0.1:PORT/v1/chat/completions
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer mock-key"
wrk.body = '{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Say hello to the benchmark in a few words"}]}'
