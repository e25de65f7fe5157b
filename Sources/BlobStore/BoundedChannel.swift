import Synchronization

/// A single-producer, single-consumer async queue holding at most `capacity` elements.
///
/// `send` suspends while the queue is full (back-pressure); `next` suspends while it is empty.
/// Either side can `close(throwing:)`, after which both sides throw that error: a failing consumer
/// stops its producer and the reverse. Task cancellation of a waiting side throws `CancellationError`.
package final class BoundedChannel<Element: Sendable>: Sendable {
    private struct State {
        var items: [Element] = []
        var finished = false
        var failure: (any Error)?
        var consumer: CheckedContinuation<Element?, any Error>?
        var producer: CheckedContinuation<Void, any Error>?
    }

    private enum SendAction {
        case done
        case deliver(CheckedContinuation<Element?, any Error>)
        case fail(any Error)
        case wait
    }

    private enum NextAction {
        case item(Element, CheckedContinuation<Void, any Error>?)
        case end
        case fail(any Error)
        case wait
    }

    private let capacity: Int
    private let state = Mutex(State())

    package init(capacity: Int) {
        precondition(capacity > 0)
        self.capacity = capacity
    }

    /// Appends an element, waiting for room.
    package func send(_ element: Element) async throws {
        while true {
            let action: SendAction = state.withLock { state in
                if let failure = state.failure { return .fail(failure) }
                precondition(!state.finished, "send after finish")
                if let consumer = state.consumer {
                    state.consumer = nil
                    return .deliver(consumer)
                }
                if state.items.count < capacity {
                    state.items.append(element)
                    return .done
                }
                return .wait
            }
            switch action {
            case .done:
                return
            case .deliver(let consumer):
                consumer.resume(returning: element)
                return
            case .fail(let error):
                throw error
            case .wait:
                try await withTaskCancellationHandler {
                    try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                        let immediate: Result<Void, any Error>? = state.withLock { state in
                            if let failure = state.failure { return .failure(failure) }
                            if Task.isCancelled { return .failure(CancellationError()) }
                            if state.items.count < capacity || state.consumer != nil { return .success(()) }
                            state.producer = continuation
                            return nil
                        }
                        if let immediate { continuation.resume(with: immediate) }
                    }
                } onCancel: {
                    let producer = state.withLock { state in
                        defer { state.producer = nil }
                        return state.producer
                    }
                    producer?.resume(throwing: CancellationError())
                }
            }
        }
    }

    /// The next element, or `nil` after `finish()` once the queue is drained.
    package func next() async throws -> Element? {
        let action: NextAction = state.withLock { state in
            if let failure = state.failure { return .fail(failure) }
            if !state.items.isEmpty {
                let item = state.items.removeFirst()
                defer { state.producer = nil }
                return .item(item, state.producer)
            }
            if state.finished { return .end }
            return .wait
        }
        switch action {
        case .item(let item, let producer):
            producer?.resume()
            return item
        case .end:
            return nil
        case .fail(let error):
            throw error
        case .wait:
            return try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Element?, any Error>) in
                    let immediate: NextAction? = state.withLock { state in
                        if let failure = state.failure { return .fail(failure) }
                        if Task.isCancelled { return .fail(CancellationError()) }
                        if !state.items.isEmpty {
                            let item = state.items.removeFirst()
                            defer { state.producer = nil }
                            return .item(item, state.producer)
                        }
                        if state.finished { return .end }
                        state.consumer = continuation
                        // A producer waiting for room can go on: the consumer is ready to take directly.
                        return nil
                    }
                    switch immediate {
                    case .item(let item, let producer):
                        producer?.resume()
                        continuation.resume(returning: item)
                    case .end:
                        continuation.resume(returning: nil)
                    case .fail(let error):
                        continuation.resume(throwing: error)
                    case .wait:
                        preconditionFailure("not produced here")
                    case nil:
                        let producer = state.withLock { state in
                            defer { state.producer = nil }
                            return state.producer
                        }
                        producer?.resume()
                    }
                }
            } onCancel: {
                let consumer = state.withLock { state in
                    defer { state.consumer = nil }
                    return state.consumer
                }
                consumer?.resume(throwing: CancellationError())
            }
        }
    }

    /// No more elements will be sent; the consumer drains what is queued, then gets `nil`.
    package func finish() {
        let consumer = state.withLock { state in
            state.finished = true
            defer { state.consumer = nil }
            return state.items.isEmpty ? state.consumer : nil
        }
        consumer?.resume(returning: nil)
    }

    /// Fails both sides with `error` (the first close wins); queued elements are dropped.
    package func close(throwing error: any Error) {
        let (consumer, producer) = state.withLock { state in
            if state.failure == nil { state.failure = error }
            state.items.removeAll()
            defer {
                state.consumer = nil
                state.producer = nil
            }
            return (state.consumer, state.producer)
        }
        consumer?.resume(throwing: error)
        producer?.resume(throwing: error)
    }
}
