import Lantern

@main
struct Example {
    static func main() async throws {
        // The default model is fetched on first use; .gguf(url) and .folder(url) open others.
        let model = try await LanternModel.load(.default, options: LoadOptions(threads: 2))

        // Stream a completion token by token.
        let greedy = GenerateParameters(maxTokens: 24, sampling: .greedy)
        for try await event in try model.generate("The capital of France is", parameters: greedy) {
            switch event {
            case .token(let token): print(token.text, terminator: "")
            case .finished(let summary): print("\n[\(summary.completionTokens) tokens, \(summary.finishReason)]")
            }
        }

        // Chat: the session keeps the history and renders the model's chat template.
        let chat = model.chat(system: "You are a helpful assistant.")
        for try await event in try chat.send("What is 12 times 12?", parameters: greedy) {
            if case .token(let token) = event { print(token.text, terminator: "") }
        }
        print("\n[history: \(chat.messages.count) messages]")

        // Cancelling the consuming task stops the sequence and frees its KV cache.
        let stream = try model.generate("Once upon a time", parameters: GenerateParameters(maxTokens: 200))
        let task = Task {
            var count = 0
            for try await event in stream { if case .token = event { count += 1 } }
            return count
        }
        try await Task.sleep(for: .milliseconds(100))
        task.cancel()
        print("cancelled after \(try await task.value) of 200 tokens")
    }
}
