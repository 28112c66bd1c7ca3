import { describe, expect, it } from 'vitest';
import { AirlockError } from '../core/errors.js';
import { forwardRefusal, parseForwardDestination } from './port-forward.js';

describe('forwardRefusal: the channel-open failure a refused ssh -L carries', () => {
  it('is "administratively prohibited" (1) with the code and reason for a denial', () => {
    const refusal = forwardRefusal(
      new AirlockError('PORT_NOT_ALLOWED', 'port 22 is not allowed by profile debug'),
    );
    expect(refusal).toEqual({
      reasonCode: 1,
      description: 'airlock: PORT_NOT_ALLOWED: port 22 is not allowed by profile debug',
    });
  });

  it('is "connect failed" (2) when the gateway could not carry an allowed forward', () => {
    const refusal = forwardRefusal(new AirlockError('EXECUTOR_UNAVAILABLE', 'the executor is unavailable'));
    expect(refusal.reasonCode).toBe(2);
    expect(refusal.description).toBe('airlock: EXECUTOR_UNAVAILABLE: the executor is unavailable');
  });

  it('is one terminal-safe line even when the message quotes hostile input', () => {
    const refusal = forwardRefusal(new AirlockError('SCOPE_POD', 'pod "x\u001b[2J" is out of scope\nhint'));
    expect(refusal.description).not.toMatch(/[\u0000-\u001f\u007f]/);
    expect(refusal.description).toContain('airlock: SCOPE_POD: pod');
  });
});

describe('parseForwardDestination', () => {
  it('reads pod, pod.namespace and namespace/pod', () => {
    expect(parseForwardDestination('api-0', 'ns')).toEqual({ namespace: 'ns', pod: 'api-0' });
    expect(parseForwardDestination('api-0.pay', 'ns')).toEqual({ namespace: 'pay', pod: 'api-0' });
    expect(parseForwardDestination('pay/api-0', 'ns')).toEqual({ namespace: 'pay', pod: 'api-0' });
  });
});
