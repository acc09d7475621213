// A promise that many callers await gets a deadline of its own: past `ms` it rejects with
// `failure()` (the work itself may go on; its late answer, or late failure, is dropped), and
// `onTimeout` lets the owner mark that answer as unwanted. Both halves use it: the endpoint's
// shared challenge pings and token fetches, the service's cloud mints.
export function withDeadline<T>(
  work: Promise<T>,
  ms: number,
  failure: () => Error,
  onTimeout?: () => void,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      onTimeout?.();
      reject(failure());
    }, ms);
  });
  work.catch(() => {}); // a late failure after the deadline is not unhandled
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}
