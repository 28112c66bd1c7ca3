import { KUBE_CLIENT_SIGNER } from './kube-csr.js';

/*
 * What the tests of the identities that sign through the CSR API share (the
 * broker's RBAC in kube-csr-deploy.test.ts, the executor's in
 * kube-credentials.test.ts): the cluster rules such an identity is granted.
 */

/** create/get/delete on CSRs, update on their approval, approve on the kube-apiserver client signer: no more. */
export const CSR_SIGNING_RULES = [
  {
    apiGroups: ['certificates.k8s.io'],
    resources: ['certificatesigningrequests'],
    verbs: ['create', 'get', 'delete'],
  },
  {
    apiGroups: ['certificates.k8s.io'],
    resources: ['certificatesigningrequests/approval'],
    verbs: ['update'],
  },
  {
    apiGroups: ['certificates.k8s.io'],
    resources: ['signers'],
    resourceNames: [KUBE_CLIENT_SIGNER],
    verbs: ['approve'],
  },
];
