"""Offline Terraform checks as strict as ``terraform validate`` for the mistakes we make.

``schema`` reads the google provider schema out of the cdktf jsii assembly; ``handwritten``
adds what that package does not hold; ``expressions`` finds references in HCL expressions;
``bodies`` checks block bodies and ``references`` checks references against the module.
"""
